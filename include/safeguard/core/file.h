// Reading input files: the one place Safeguard opens files it is given, so
// every caller follows the same rules. Only regular files are read (a
// directory, FIFO or device is refused, and opening a FIFO never blocks);
// interrupted reads are retried; every error names the path.
//
// Example:
//   Result<InputFile> f = InputFile::Open(path);
//   if (!f.ok()) return f.status();
//   uint8_t head[64];
//   Result<size_t> n = f->Read(head, sizeof(head));
//
// Thread safety: an InputFile is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "safeguard/core/status.h"

namespace safeguard {

class InputFile {
 public:
  // Errors: kNotFound (no such file), kInvalidArgument (a directory, or not a
  // regular file), kIoError (anything else the system refuses).
  static Result<InputFile> Open(const std::string& path);

  InputFile(InputFile&& other) noexcept;
  InputFile& operator=(InputFile&& other) noexcept;
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile();

  const std::string& path() const { return path_; }
  // The size when it was opened (the file may change while it is read).
  uint64_t size() const { return size_; }

  // Reads up to `size` bytes; fewer only at end of file. Errors: kIoError.
  Result<size_t> Read(uint8_t* buffer, size_t size);

  // Reads up to `size` bytes starting at byte `offset` (pread: the position
  // Read uses is unchanged); fewer only at end of file, 0 at or past it. For
  // readers that seek, such as video demuxers. Errors: kIoError.
  Result<size_t> ReadAt(uint64_t offset, uint8_t* buffer, size_t size);

  // Appends the rest of the file to *bytes, which then holds at most
  // max_bytes (more is kLimitExceeded: the file grew past the limit while
  // being read). Does not trust size(): reads to end of file.
  Status ReadRest(std::vector<uint8_t>* bytes, uint64_t max_bytes);

 private:
  InputFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}

  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// The whole file, refused before reading when it is larger than max_bytes
// (kLimitExceeded, "<path>: N bytes exceeds max_file_bytes M"). Errors as
// InputFile::Open and Read.
Result<std::vector<uint8_t>> ReadFileBounded(const std::string& path, uint64_t max_bytes);

}  // namespace safeguard
