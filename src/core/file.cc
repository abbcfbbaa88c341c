#include "safeguard/core/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <utility>

namespace safeguard {
namespace {

// Thread-safe text for an errno value (std::strerror is not).
std::string ErrnoText(int err) { return std::generic_category().message(err); }

}  // namespace

Result<InputFile> InputFile::Open(const std::string& path) {
  // O_NONBLOCK so that opening a FIFO cannot hang (it is then refused as not
  // a regular file); it has no effect on regular files. fstat on the open
  // descriptor, not stat on the path, so the checks apply to what is read.
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return Status::NotFound(path + ": no such file");
    return Status::IoError(path + ": cannot open: " + ErrnoText(err));
  }
  InputFile file(path, fd, 0);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::IoError(path + ": cannot stat: " + ErrnoText(errno));
  if (S_ISDIR(st.st_mode)) return Status::InvalidArgument(path + ": is a directory, not a file");
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(path + ": not a regular file");
  file.size_ = static_cast<uint64_t>(st.st_size);
  (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);  // a hint only
  return file;
}

InputFile::InputFile(InputFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)), size_(other.size_) {}

InputFile& InputFile::operator=(InputFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
  }
  return *this;
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);  // read-only: nothing to lose on close
}

Result<size_t> InputFile::Read(uint8_t* buffer, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd_, buffer + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError(path_ + ": read failed: " + ErrnoText(errno));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Result<size_t> InputFile::ReadAt(uint64_t offset, uint8_t* buffer, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd_, buffer + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError(path_ + ": read failed: " + ErrnoText(errno));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Status InputFile::ReadRest(std::vector<uint8_t>* bytes, uint64_t max_bytes) {
  // Start from the size seen at open; grow only if the file grew. One byte
  // past the limit is enough to know it is over.
  const uint64_t cap = max_bytes == UINT64_MAX ? max_bytes : max_bytes + 1;
  size_t used = bytes->size();
  bytes->resize(static_cast<size_t>(std::min<uint64_t>(cap, std::max<uint64_t>(size_, used) + 1)));
  while (true) {
    if (used == bytes->size()) {
      if (used > max_bytes) break;
      bytes->resize(static_cast<size_t>(std::min<uint64_t>(cap, used + used / 2 + 4096)));
    }
    Result<size_t> n = Read(bytes->data() + used, bytes->size() - used);
    if (!n.ok()) return n.status();
    used += *n;
    if (*n == 0 || used < bytes->size()) break;  // end of file
  }
  bytes->resize(used);
  if (used > max_bytes) {
    return Status::LimitExceeded(path_ + ": more than max_file_bytes " + std::to_string(max_bytes) +
                                 " bytes (the file grew while being read)");
  }
  return Status::Ok();
}

Result<std::vector<uint8_t>> ReadFileBounded(const std::string& path, uint64_t max_bytes) {
  Result<InputFile> file = InputFile::Open(path);
  if (!file.ok()) return file.status();
  if (file->size() > max_bytes) {
    return Status::LimitExceeded(path + ": " + std::to_string(file->size()) +
                                 " bytes exceeds max_file_bytes " + std::to_string(max_bytes));
  }
  std::vector<uint8_t> bytes;
  if (Status s = file->ReadRest(&bytes, max_bytes); !s.ok()) return s;
  return bytes;
}

}  // namespace safeguard
