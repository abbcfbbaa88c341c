// The PAN 2012 Sexual Predator Identification corpus format, for
// evaluation (`safeguard text eval`) and training (`safeguard text train`):
//
//   <conversations>
//     <conversation id="...">
//       <message line="1"><author>...</author><time>03:20</time><text>...</text></message>
//       ...
//
// plus a text file of predator author ids, one per line. The XML is parsed
// by pugixml: no DTDs, no external entities, nothing fetched. Only the
// format is used here; the corpus itself is not part of this project.
//
// Example:
//   Result<std::vector<PanConversation>> corpus = ReadPanXml("corpus.xml");
//   Result<std::unordered_set<std::string>> predators = ReadAuthorList("predators.txt");
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "safeguard/core/status.h"
#include "safeguard/text/message.h"

namespace safeguard::text {

struct PanMessage {
  int line = 0;  // the "line" attribute; 0 when absent
  std::string author;
  std::string time;  // as written, "HH:MM" in PAN 2012
  std::string text;
};

struct PanConversation {
  std::string id;
  std::vector<PanMessage> messages;  // in document order
};

struct PanLimits {
  uint64_t max_file_bytes = 2ull << 30;  // refused before reading
  size_t max_text_bytes = 64 << 10;      // one <text>
  size_t max_id_bytes = 256;             // conversation ids and authors
  size_t max_messages = 50'000'000;      // in the whole corpus
};

// Errors: kCorrupt ("<origin>: malformed XML at line L, column C: why", or
// the element that is missing, with its line), kLimitExceeded.
Result<std::vector<PanConversation>> ParsePanXml(std::string_view xml, std::string_view origin,
                                                 const PanLimits& limits = {});
// Errors: those of reading files, and of ParsePanXml.
Result<std::vector<PanConversation>> ReadPanXml(const std::string& path,
                                                const PanLimits& limits = {});

// One id per line; blank lines and surrounding whitespace ignored.
// Errors: those of reading files; kLimitExceeded over max_bytes.
Result<std::unordered_set<std::string>> ReadAuthorList(const std::string& path,
                                                       uint64_t max_bytes = 64 << 20);

// "HH:MM" (or "H:MM", "HH:MM:SS") -> seconds since midnight; -1 if not a time.
int PanTimeSeconds(std::string_view time);

// Engine messages for a corpus, conversation after conversation. Message ids
// are "<line>" (or the index when there is no line attribute); recipients
// are the conversation's other authors; timestamps come from <time> (a
// clock time, so a time earlier than the previous one means the next day;
// messages without a time take the previous one).
std::vector<Message> PanToMessages(const std::vector<PanConversation>& corpus);
std::vector<Message> PanToMessages(const PanConversation& conversation);

}  // namespace safeguard::text
