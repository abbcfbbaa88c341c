#include "safeguard/text/classifier.h"

#include <fasttext/args.h>
#include <fasttext/densematrix.h>
#include <fasttext/dictionary.h>
#include <fasttext/fasttext.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <istream>
#include <map>
#include <sstream>
#include <streambuf>

#include "fasttext_model_check.h"
#include "normalizer.h"
#include "safeguard/core/file.h"

namespace safeguard::text {
namespace {

constexpr const char* kPositiveLabel = "__label__pos";
constexpr const char* kNegativeLabel = "__label__neg";

// An istream over bytes already in memory (fastText reads models from a
// stream; this avoids a second copy of a large model).
class ByteStreamBuf : public std::streambuf {
 public:
  ByteStreamBuf(const uint8_t* data, size_t size) {
    char* p = const_cast<char*>(reinterpret_cast<const char*>(data));
    setg(p, p, p + size);
  }
};

// The normalised tokens of a text, space separated: what the model sees.
void AppendTokens(const NormalizedText& n, std::string* line) {
  for (size_t i = 0; i < n.tokens.size(); ++i) {
    if (!line->empty()) line->push_back(' ');
    line->append(n.TokenText(i));
  }
}

}  // namespace

struct WindowClassifier::Impl {
  fasttext::FastText model;
  std::shared_ptr<const fasttext::Dictionary> dictionary;
  std::shared_ptr<const fasttext::DenseMatrix> input;
  std::shared_ptr<const fasttext::DenseMatrix> output;
  int dim = 0;
  int32_t positive = -1;
  int32_t negative = -1;
};

WindowClassifier::WindowClassifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WindowClassifier::~WindowClassifier() = default;

Result<std::shared_ptr<const WindowClassifier>> WindowClassifier::Load(
    const std::string& path, const ClassifierLimits& limits) {
  Result<std::vector<uint8_t>> bytes = ReadFileBounded(path, limits.max_model_bytes);
  if (!bytes.ok()) return bytes.status();
  Result<FastTextModelShape> shape =
      CheckFastTextModel(bytes->data(), bytes->size(), limits.max_dim);
  if (!shape.ok()) {
    return Status::Error(shape.status().code(), path + ": " + shape.status().message());
  }
  auto impl = std::make_unique<Impl>();
  try {
    // FastText::loadModel(istream&) expects the stream after the magic and
    // version, which CheckFastTextModel has verified.
    constexpr size_t kHeader = 8;
    ByteStreamBuf buf(bytes->data() + kHeader, bytes->size() - kHeader);
    std::istream in(&buf);
    impl->model.loadModel(in);
    impl->dictionary = impl->model.getDictionary();
    impl->input = impl->model.getInputMatrix();
    impl->output = impl->model.getOutputMatrix();
  } catch (const std::exception& e) {
    return Status::Corrupt(path + ": fastText could not load the model: " + e.what());
  }
  impl->dim = static_cast<int>(impl->input->cols());
  for (int32_t i = 0; i < impl->dictionary->nlabels(); ++i) {
    const std::string label = impl->dictionary->getLabel(i);
    if (label == kPositiveLabel) impl->positive = i;
    if (label == kNegativeLabel) impl->negative = i;
  }
  if (impl->positive < 0 || impl->negative < 0 ||
      impl->output->rows() != impl->dictionary->nlabels()) {
    return Status::Unsupported(path + ": the model needs the labels " + kPositiveLabel + " and " +
                               kNegativeLabel + " (train it with `safeguard text train`)");
  }
  return std::shared_ptr<const WindowClassifier>(new WindowClassifier(std::move(impl)));
}

int WindowClassifier::dim() const { return impl_->dim; }

uint32_t WindowClassifier::Embed(const NormalizedText& tokens, float* sum) const {
  if (tokens.tokens.empty()) return 0;
  std::string line;
  AppendTokens(tokens, &line);
  std::istringstream in(line);
  std::vector<int32_t> words, labels;
  impl_->dictionary->getLine(in, words, labels);
  const int dim = impl_->dim;
  const float* data = impl_->input->data();
  for (const int32_t w : words) {
    const float* row = data + static_cast<int64_t>(w) * dim;
    for (int k = 0; k < dim; ++k) sum[k] += row[k];
  }
  return static_cast<uint32_t>(words.size());
}

double WindowClassifier::Probability(const float* sum, uint32_t rows,
                                     const NormalizedText& last) const {
  const int dim = impl_->dim;
  std::vector<float> hidden(sum, sum + dim);
  // The newest message ends the line, as every training line ended.
  std::string line;
  AppendTokens(last, &line);
  line.push_back('\n');
  std::istringstream in(line);
  std::vector<int32_t> words, labels;
  impl_->dictionary->getLine(in, words, labels);
  const float* data = impl_->input->data();
  for (const int32_t w : words) {
    const float* row = data + static_cast<int64_t>(w) * dim;
    for (int k = 0; k < dim; ++k) hidden[static_cast<size_t>(k)] += row[k];
  }
  const uint32_t count = rows + static_cast<uint32_t>(words.size());
  if (count == 0) return 0;
  for (float& h : hidden) h /= static_cast<float>(count);
  const int64_t labels_count = impl_->output->rows();
  std::vector<double> logits(static_cast<size_t>(labels_count));
  double max_logit = -1e300;
  for (int64_t l = 0; l < labels_count; ++l) {
    double z = 0;
    for (int k = 0; k < dim; ++k) z += impl_->output->at(l, k) * hidden[static_cast<size_t>(k)];
    logits[static_cast<size_t>(l)] = z;
    max_logit = std::max(max_logit, z);
  }
  double total = 0;
  for (double& z : logits) total += (z = std::exp(z - max_logit));
  return logits[static_cast<size_t>(impl_->positive)] / total;
}

double WindowClassifier::Score(const std::vector<std::string>& window) const {
  std::vector<float> sum(static_cast<size_t>(impl_->dim), 0.0f);
  uint32_t rows = 0;
  NormalizedText n;
  for (size_t i = 0; i + 1 < window.size(); ++i) {
    Normalize(window[i], &n);
    rows += Embed(n, sum.data());
  }
  Normalize(window.empty() ? std::string_view() : std::string_view(window.back()), &n);
  return Probability(sum.data(), rows, n);
}

std::vector<TrainingExample> MakeTrainingWindows(const std::vector<Message>& messages,
                                                 const std::unordered_set<std::string>& positives,
                                                 size_t window, size_t stride) {
  window = std::max<size_t>(window, 1);
  stride = std::max<size_t>(stride, 1);
  // (conversation, sender) in order of first appearance.
  std::map<std::pair<std::string, std::string>, size_t> index;
  std::vector<std::pair<std::string, std::vector<const std::string*>>> groups;
  for (const Message& m : messages) {
    auto [it, added] = index.try_emplace({m.conversation_id, m.sender_id}, groups.size());
    if (added) groups.push_back({m.sender_id, {}});
    groups[it->second].second.push_back(&m.text);
  }
  std::vector<TrainingExample> out;
  for (const auto& [sender, texts] : groups) {
    const bool positive = positives.count(sender) > 0;
    for (size_t start = 0; start < texts.size(); start += stride) {
      TrainingExample e;
      e.positive = positive;
      const size_t end = std::min(texts.size(), start + window);
      for (size_t i = start; i < end; ++i) e.messages.push_back(*texts[i]);
      out.push_back(std::move(e));
      if (end == texts.size()) break;
    }
  }
  return out;
}

Result<TrainReport> TrainClassifier(const std::vector<TrainingExample>& examples,
                                    const TrainOptions& options, const std::string& out_path) {
  TrainReport report;
  report.examples = examples.size();
  for (const TrainingExample& e : examples) report.positives += e.positive;
  if (report.positives == 0 || report.positives == report.examples) {
    return Status::InvalidArgument("training needs positive and negative examples (" +
                                   std::to_string(report.positives) + " of " +
                                   std::to_string(report.examples) + " positive)");
  }
  // fastText trains from a file: one line per window, label first.
  std::string tmpl = (std::filesystem::temp_directory_path() / "safeguard-train-XXXXXX").string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) {
    return Status::IoError("cannot create a temporary file: " + std::string(std::strerror(errno)));
  }
  std::FILE* f = ::fdopen(fd, "w");
  if (f == nullptr) {
    ::close(fd);
    ::unlink(tmpl.c_str());
    return Status::IoError("cannot open a temporary file");
  }
  NormalizedText n;
  std::string line;
  bool write_ok = true;
  for (const TrainingExample& e : examples) {
    line = e.positive ? kPositiveLabel : kNegativeLabel;
    for (const std::string& m : e.messages) {
      Normalize(m, &n);
      AppendTokens(n, &line);
    }
    line.push_back('\n');
    write_ok = write_ok && std::fwrite(line.data(), 1, line.size(), f) == line.size();
  }
  write_ok = std::fclose(f) == 0 && write_ok;
  struct Unlink {
    std::string path;
    ~Unlink() { ::unlink(path.c_str()); }
  } cleanup{tmpl};
  if (!write_ok) return Status::IoError("cannot write the temporary training file " + tmpl);

  fasttext::Args args;
  args.input = tmpl;
  args.model = fasttext::model_name::sup;
  args.loss = fasttext::loss_name::softmax;
  args.dim = options.dim;
  args.epoch = options.epoch;
  args.lr = options.learning_rate;
  args.wordNgrams = options.word_ngrams;
  args.bucket = options.bucket;
  args.minCount = options.min_count;
  args.minn = 0;
  args.maxn = 0;
  args.thread = options.threads;
  args.seed = options.seed;
  args.verbose = 0;
  try {
    fasttext::FastText model;
    model.train(args);
    model.saveModel(out_path);
    report.words = static_cast<size_t>(model.getDictionary()->nwords());
  } catch (const std::ios_base::failure& e) {
    return Status::IoError(out_path + ": " + e.what());
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    if (what.find("cannot be opened") != std::string::npos) return Status::IoError(what);
    return Status::InvalidArgument("fastText refused the training data: " + what);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("fastText training failed: ") + e.what());
  }
  // A sanity check through the same path the engine scores with.
  Result<std::shared_ptr<const WindowClassifier>> model = WindowClassifier::Load(out_path);
  if (!model.ok()) return model.status();
  size_t right = 0;
  for (const TrainingExample& e : examples)
    right += ((*model)->Score(e.messages) >= 0.5) == e.positive;
  report.training_accuracy = static_cast<double>(right) / static_cast<double>(examples.size());
  return report;
}

}  // namespace safeguard::text
