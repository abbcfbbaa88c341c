// The optional message-window classifier: a fastText supervised model
// (Debian's libfasttext) trained by `safeguard text train` on an operator's
// labelled conversations, scored on a sliding window of each sender's
// messages and combined with the indicators by the engine. Without a model
// the engine works on indicators alone.
//
// The model sees normalised tokens (the same normalisation as indicators),
// never raw text. A window's score is computed from per-message embedding
// sums (fastText's hidden layer is the mean of its input rows), so the
// engine keeps dim floats per message of the window instead of any text.
//
// Example:
//   Result<std::shared_ptr<const WindowClassifier>> model =
//       WindowClassifier::Load("model.bin");
//   double p = (*model)->Score({"hi", "how old r u", "dont tell ur mom"});
//
// Thread safety: a loaded WindowClassifier is immutable; Embed, Probability
// and Score may run on many threads at once. Training is one call at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "safeguard/core/status.h"
#include "safeguard/text/message.h"

namespace safeguard::text {

struct NormalizedText;  // src/text/normalizer.h

struct ClassifierLimits {
  uint64_t max_model_bytes = 1ull << 30;  // refused before reading
  int max_dim = 512;
};

class WindowClassifier {
 public:
  // Loads a model written by TrainClassifier. The file's structure is
  // checked before fastText reads it (fastText trusts sizes in the file).
  // Errors: those of reading files; kCorrupt (not a fastText model, or
  // truncated); kUnsupported (quantized, not supervised/softmax, or without
  // the __label__pos and __label__neg labels); kLimitExceeded.
  static Result<std::shared_ptr<const WindowClassifier>> Load(const std::string& path,
                                                              const ClassifierLimits& limits = {});
  ~WindowClassifier();
  WindowClassifier(const WindowClassifier&) = delete;
  WindowClassifier& operator=(const WindowClassifier&) = delete;

  // Width of an embedding sum.
  int dim() const;

  // Adds the input rows of one message's tokens (words and the word n-grams
  // within the message) to sum[0, dim()) and returns how many rows it added.
  uint32_t Embed(const NormalizedText& tokens, float* sum) const;

  // Probability that a window is positive: `sum` and `rows` are the Embed
  // sums of its earlier messages, `last` its newest message, which is added
  // as the end of a training line (with fastText's end-of-line word and the
  // n-grams reaching it), so that a one-message window scores exactly as
  // fastText's own predict would. Earlier messages lack the n-grams that
  // would span two messages in a training line: an approximation, the
  // price of keeping floats instead of text (docs/text.md).
  double Probability(const float* sum, uint32_t rows, const NormalizedText& last) const;

  // Convenience: normalises and scores one window of messages.
  double Score(const std::vector<std::string>& window) const;

 private:
  struct Impl;
  explicit WindowClassifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A labelled window: consecutive messages of one sender in one conversation.
struct TrainingExample {
  bool positive = false;
  std::vector<std::string> messages;
};

// Windows of `window` consecutive messages of each sender in each
// conversation (every `stride` messages; a sender with fewer messages gives
// one shorter window), labelled positive when the sender is in `positives`.
// Messages are taken in the order given.
std::vector<TrainingExample> MakeTrainingWindows(const std::vector<Message>& messages,
                                                 const std::unordered_set<std::string>& positives,
                                                 size_t window, size_t stride);

struct TrainOptions {
  int dim = 16;  // embedding width: memory per tracked message is 4 * dim bytes
  int epoch = 25;
  double learning_rate = 0.5;
  int word_ngrams = 2;
  int bucket = 200000;  // hashed n-gram rows: model size ~ 4 * dim * (bucket + words) bytes
  int min_count = 1;
  int threads = 1;  // more is faster but not reproducible
  int seed = 1;
};

struct TrainReport {
  size_t examples = 0;
  size_t positives = 0;
  size_t words = 0;              // vocabulary of the model
  double training_accuracy = 0;  // on the training windows (a sanity check, not quality)
};

// Trains a model on `examples` and writes it to `out_path`. Errors:
// kInvalidArgument (no examples, or only one class), kIoError, kInternal
// (fastText refused).
Result<TrainReport> TrainClassifier(const std::vector<TrainingExample>& examples,
                                    const TrainOptions& options, const std::string& out_path);

}  // namespace safeguard::text
