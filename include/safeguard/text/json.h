// The JSON forms of the text subsystem's results: the lines `safeguard text
// score` prints, and the reply body the HTTP API will use. One place, so
// the schema in docs/text.md ("Output") has one implementation. Scores are
// rounded to 3 decimals; offsets are Unicode code points.
//
// Example:
//   engine.Process(message, &assessment);
//   std::cout << AssessmentJson(message, assessment, engine.indicators()) << "\n";
//
// Thread safety: pure functions.
#pragma once

#include <string>

#include "safeguard/text/indicators.h"
#include "safeguard/text/message.h"
#include "safeguard/text/risk_engine.h"

namespace safeguard::text {

// One object (no newline) for a processed message. Contains ids, offsets,
// indicator and stage names and scores: never message text.
std::string AssessmentJson(const Message& message, const Assessment& assessment,
                           const IndicatorSet& indicators);

// One object per indicator: name, stage, weight, description, origin,
// pattern count.
std::string IndicatorJson(const Indicator& indicator);

// Rounds to 3 decimals (the precision of every score in the output).
double RoundScore(double x);

}  // namespace safeguard::text
