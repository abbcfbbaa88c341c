#include "safeguard/hash/file_signals.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace safeguard {
namespace {

// Closes a file descriptor on every path out.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads up to `size` bytes; returns the count read (short only at end of file).
Result<size_t> ReadFully(int fd, uint8_t* buf, size_t size, const std::string& path) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, buf + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError(path + ": read failed: " + std::strerror(errno));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

// Decodes and hashes; a decode failure goes into s.image_status.
void HashImage(const uint8_t* data, size_t size, const SignalOptions& options,
               std::string_view name, FileSignals& s) {
  DecodeOptions decode = options.decode;
  if (options.pdq_mode == PdqMode::kFast) decode.shrink_to_min_side = options.fast_min_side;
  Result<RgbImage> image = DecodeImage(data, size, decode, name);
  if (!image.ok()) {
    s.image_status = image.status();
    return;
  }
  s.width = image->original_width;
  s.height = image->original_height;
  s.format = image->format;
  const RgbView view{image->pixels.data(), image->width, image->height, 3 * image->width};
  switch (options.pdq_mode) {
    case PdqMode::kCanonical:
      s.pdq = PdqHashRgb(view, options.dihedral);
      break;
    case PdqMode::kFast:
      s.pdq = PdqHashRgbReduced(view, s.width, s.height, options.dihedral);
      break;
    case PdqMode::kReference512:
      s.pdq = PdqHashReference512(view, options.dihedral);
      break;
  }
}

}  // namespace

std::string_view PdqModeName(PdqMode mode) {
  switch (mode) {
    case PdqMode::kCanonical:
      return "canonical";
    case PdqMode::kFast:
      return "fast";
    case PdqMode::kReference512:
      return "reference512";
  }
  return "unknown";
}

Result<PdqMode> ParsePdqMode(std::string_view name) {
  for (PdqMode m : {PdqMode::kCanonical, PdqMode::kFast, PdqMode::kReference512}) {
    if (PdqModeName(m) == name) return m;
  }
  return Status::InvalidArgument("unknown PDQ mode '" + std::string(name) +
                                 "' (expected canonical, fast or reference512)");
}

Result<FileSignals> ComputeSignals(const uint8_t* data, size_t size, const SignalOptions& options,
                                   std::string_view name) {
  FileSignals s;
  s.digests = DigestBytes(data, size);
  s.format = SniffImageFormat(data, size);
  s.is_image = !s.format.empty();
  if (s.is_image) HashImage(data, size, options, name, s);
  return s;
}

Result<FileSignals> ComputeFileSignals(const std::string& path, const SignalOptions& options) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IoError(path + ": cannot open: " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return Status::IoError(path + ": cannot stat: " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) return Status::InvalidArgument(path + ": is a directory");

  uint8_t head[64];
  Result<size_t> head_size = ReadFully(fd.get(), head, sizeof(head), path);
  if (!head_size.ok()) return head_size.status();
  FileSignals s;
  s.format = SniffImageFormat(head, *head_size);
  s.is_image = !s.format.empty();
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  const uint64_t max_bytes = options.decode.limits.max_file_bytes;

  if (s.is_image && file_size <= max_bytes) {
    // Bounded by max_file_bytes: read once, digest and decode the same bytes.
    std::vector<uint8_t> bytes(file_size);
    std::memcpy(bytes.data(), head, *head_size);
    Result<size_t> rest =
        ReadFully(fd.get(), bytes.data() + *head_size, bytes.size() - *head_size, path);
    if (!rest.ok()) return rest.status();
    bytes.resize(*head_size + *rest);  // the file may have shrunk meanwhile
    s.digests = DigestBytes(bytes.data(), bytes.size());
    HashImage(bytes.data(), bytes.size(), options, path, s);
    return s;
  }
  if (s.is_image) {
    s.image_status = Status::LimitExceeded(path + ": " + std::to_string(file_size) +
                                           " bytes exceeds max_file_bytes " +
                                           std::to_string(max_bytes) + "; not decoded");
  }
  // Anything else may be huge: stream it through the digests.
  Digester digester;
  digester.Update(head, *head_size);
  std::vector<uint8_t> buf(size_t{1} << 20);
  while (true) {
    Result<size_t> n = ReadFully(fd.get(), buf.data(), buf.size(), path);
    if (!n.ok()) return n.status();
    digester.Update(buf.data(), *n);
    if (*n < buf.size()) break;
  }
  s.digests = digester.Finish();
  return s;
}

}  // namespace safeguard
