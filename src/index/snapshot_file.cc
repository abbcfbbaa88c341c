#include "snapshot_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "crc32c.h"
#include "large_buffer.h"

namespace safeguard::index_internal {

static_assert(std::endian::native == std::endian::little,
              "snapshot files are little-endian and used in place");

namespace {

std::string SystemError(const std::string& what, const std::string& path) {
  return path + ": " + what + ": " + std::strerror(errno);
}

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <typename T>
void Store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

uint64_t AlignUp(uint64_t x) {
  return (x + kSnapshotAlignment - 1) / kSnapshotAlignment * kSnapshotAlignment;
}

// Writes everything, retrying short and interrupted writes, and feeds the
// bytes to the running checksum.
class FileWriter {
 public:
  FileWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  Status Write(const void* data, size_t size) {
    crc_ = Crc32c(crc_, data, size);
    const auto* p = static_cast<const uint8_t*>(data);
    while (size > 0) {
      const ssize_t n = ::write(fd_, p, size < (size_t{1} << 30) ? size : (size_t{1} << 30));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::IoError(SystemError("write", path_));
      }
      p += n;
      size -= static_cast<size_t>(n);
      written_ += static_cast<uint64_t>(n);
    }
    return Status::Ok();
  }

  Status PadTo(uint64_t offset) {
    static const uint8_t kZeros[kSnapshotAlignment] = {};
    while (written_ < offset) {
      const uint64_t n = offset - written_ < sizeof(kZeros) ? offset - written_ : sizeof(kZeros);
      if (Status s = Write(kZeros, n); !s.ok()) return s;
    }
    return Status::Ok();
  }

  uint32_t crc() const { return crc_; }

 private:
  int fd_;
  std::string path_;
  uint32_t crc_ = 0;
  uint64_t written_ = kSnapshotHeaderBytes;  // the header is written last
};

Status ReadAll(int fd, uint8_t* data, uint64_t size, uint64_t offset, const std::string& path) {
  while (size > 0) {
    const ssize_t n = ::pread(fd, data, size < (uint64_t{1} << 30) ? size : (uint64_t{1} << 30),
                              static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError(SystemError("read", path));
    }
    if (n == 0) return Status::Corrupt(path + ": file shrank while being read");
    data += n;
    offset += static_cast<uint64_t>(n);
    size -= static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

// The checks that need only the header bytes (at most 64 of them).
Status CheckHeader(const uint8_t* header, uint64_t available, uint64_t file_size, SnapshotKind kind,
                   const std::string& path) {
  if (available < sizeof(kSnapshotMagic) ||
      std::memcmp(header, kSnapshotMagic, sizeof(kSnapshotMagic)) != 0) {
    return Status::Unsupported(path + ": not a Safeguard index snapshot (wrong magic number)");
  }
  if (available < kSnapshotHeaderBytes) {
    return Status::Corrupt(path + ": truncated: " + std::to_string(file_size) +
                           " bytes, shorter than the 64-byte header");
  }
  const uint32_t version = Load<uint32_t>(header + 8);
  if (version != kSnapshotVersion) {
    return Status::Unsupported(path + ": snapshot format version " + std::to_string(version) +
                               ", this build reads version " + std::to_string(kSnapshotVersion));
  }
  if (Crc32c(0, header, 32) != Load<uint32_t>(header + 32)) {
    return Status::Corrupt(path + ": header checksum mismatch");
  }
  for (size_t i = 36; i < kSnapshotHeaderBytes; ++i) {
    if (header[i] != 0) return Status::Corrupt(path + ": reserved header bytes not zero");
  }
  const uint32_t file_kind = Load<uint32_t>(header + 12);
  if (file_kind != static_cast<uint32_t>(kind)) {
    return Status::InvalidArgument(path + ": a " +
                                   SnapshotKindName(static_cast<SnapshotKind>(file_kind)) +
                                   " snapshot, expected a " + SnapshotKindName(kind) + " snapshot");
  }
  const uint64_t expected_size = Load<uint64_t>(header + 16);
  if (expected_size != file_size) {
    return Status::Corrupt(
        path + (file_size < expected_size ? ": truncated: " : ": trailing data: ") +
        std::to_string(file_size) + " bytes, the header says " + std::to_string(expected_size));
  }
  return Status::Ok();
}

}  // namespace

const char* SnapshotKindName(SnapshotKind kind) {
  switch (kind) {
    case SnapshotKind::kPdqIndex:
      return "PDQ index";
    case SnapshotKind::kDigestIndex:
      return "digest index";
  }
  return "unknown";
}

Status WriteSnapshot(const std::string& path, SnapshotKind kind,
                     std::span<const SnapshotSection> sections) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError(SystemError("cannot create", tmp));
  auto fail = [&](Status s) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  };

  // Directory, then each section at the next 64-byte boundary.
  std::vector<uint8_t> directory(sections.size() * kSnapshotDirectoryEntryBytes, 0);
  uint64_t offset = AlignUp(kSnapshotHeaderBytes + directory.size());
  std::vector<uint64_t> offsets;
  for (size_t i = 0; i < sections.size(); ++i) {
    uint8_t* e = directory.data() + i * kSnapshotDirectoryEntryBytes;
    Store<uint32_t>(e, sections[i].tag);
    Store<uint64_t>(e + 8, offset);
    Store<uint64_t>(e + 16, sections[i].size);
    offsets.push_back(offset);
    offset = AlignUp(offset + sections[i].size);
  }
  const uint64_t file_size = offset;

  // Room for the header first; it is written once the payload checksum is known.
  uint8_t header[kSnapshotHeaderBytes] = {};
  if (::pwrite(fd, header, sizeof(header), 0) != static_cast<ssize_t>(sizeof(header)) ||
      ::lseek(fd, static_cast<off_t>(sizeof(header)), SEEK_SET) < 0) {
    return fail(Status::IoError(SystemError("write", tmp)));
  }
  FileWriter out(fd, tmp);
  if (Status s = out.Write(directory.data(), directory.size()); !s.ok()) return fail(s);
  for (size_t i = 0; i < sections.size(); ++i) {
    if (Status s = out.PadTo(offsets[i]); !s.ok()) return fail(s);
    if (Status s = out.Write(sections[i].data, sections[i].size); !s.ok()) return fail(s);
  }
  if (Status s = out.PadTo(file_size); !s.ok()) return fail(s);

  std::memcpy(header, kSnapshotMagic, sizeof(kSnapshotMagic));
  Store<uint32_t>(header + 8, kSnapshotVersion);
  Store<uint32_t>(header + 12, static_cast<uint32_t>(kind));
  Store<uint64_t>(header + 16, file_size);
  Store<uint32_t>(header + 24, static_cast<uint32_t>(sections.size()));
  Store<uint32_t>(header + 28, out.crc());
  Store<uint32_t>(header + 32, Crc32c(0, header, 32));
  if (::pwrite(fd, header, sizeof(header), 0) != static_cast<ssize_t>(sizeof(header))) {
    return fail(Status::IoError(SystemError("write", tmp)));
  }
  if (::fsync(fd) != 0) return fail(Status::IoError(SystemError("fsync", tmp)));
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Status::IoError(SystemError("close", tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const Status s = Status::IoError(SystemError("rename to " + path, tmp));
    ::unlink(tmp.c_str());
    return s;
  }
  // Make the rename itself durable.
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Result<std::shared_ptr<const MappedSnapshot>> MappedSnapshot::Open(const std::string& path,
                                                                   SnapshotKind kind,
                                                                   SnapshotBacking backing) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IoError(SystemError("cannot open", path));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::IoError(SystemError("stat", path));
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(path + ": not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);

  // The header alone first, so that a large foreign file is refused without
  // being read.
  uint8_t header[kSnapshotHeaderBytes] = {};
  const uint64_t head = size < sizeof(header) ? size : sizeof(header);
  if (Status s = ReadAll(fd, header, head, 0, path); !s.ok()) return s;
  if (Status s = CheckHeader(header, head, size, kind, path); !s.ok()) return s;

  std::shared_ptr<MappedSnapshot> snap(new MappedSnapshot());
  snap->path_ = path;
  snap->size_ = size;
  if (backing == SnapshotBacking::kMap) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED) return Status::IoError(SystemError("mmap", path));
    snap->data_ = static_cast<const uint8_t*>(p);
    snap->mapped_ = true;
  } else {
    Result<std::shared_ptr<uint8_t>> buffer = AllocateLarge(size);
    if (!buffer.ok()) return buffer.status();
    if (Status s = ReadAll(fd, buffer->get(), size, 0, path); !s.ok()) return s;
    snap->copy_ = *buffer;
    snap->data_ = snap->copy_.get();
  }
  const uint8_t* data = snap->data_;

  // The file may have changed between the header read and now: check the
  // header again on the bytes that will be used.
  if (Status s = CheckHeader(data, size, size, kind, path); !s.ok()) return s;
  if (Crc32c(0, data + kSnapshotHeaderBytes, size - kSnapshotHeaderBytes) !=
      Load<uint32_t>(data + 28)) {
    return Status::Corrupt(path + ": checksum mismatch (the file is damaged)");
  }
  const uint64_t count = Load<uint32_t>(data + 24);
  const uint64_t payload_start = kSnapshotHeaderBytes + count * kSnapshotDirectoryEntryBytes;
  if (payload_start > size) return Status::Corrupt(path + ": directory runs past the end");
  for (uint64_t i = 0; i < count; ++i) {
    const uint8_t* e = data + kSnapshotHeaderBytes + i * kSnapshotDirectoryEntryBytes;
    Entry entry{Load<uint32_t>(e), Load<uint64_t>(e + 8), Load<uint64_t>(e + 16)};
    if (entry.offset % kSnapshotAlignment != 0 || entry.offset < payload_start ||
        entry.offset > size || entry.size > size - entry.offset) {
      return Status::Corrupt(path + ": section " + std::to_string(i) + " out of bounds");
    }
    snap->entries_.push_back(entry);
  }
  return std::shared_ptr<const MappedSnapshot>(std::move(snap));
}

MappedSnapshot::~MappedSnapshot() {
  if (mapped_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

bool MappedSnapshot::Has(uint32_t tag) const {
  for (const Entry& e : entries_) {
    if (e.tag == tag) return true;
  }
  return false;
}

Result<std::span<const uint8_t>> MappedSnapshot::Section(uint32_t tag) const {
  for (const Entry& e : entries_) {
    if (e.tag == tag) return std::span<const uint8_t>(data_ + e.offset, e.size);
  }
  return Status::Corrupt(path_ + ": section " + std::to_string(tag) + " missing");
}

Result<std::span<const uint8_t>> MappedSnapshot::Section(uint32_t tag, uint64_t size) const {
  Result<std::span<const uint8_t>> s = Section(tag);
  if (!s.ok()) return s;
  if (s->size() != size) {
    return Status::Corrupt(path_ + ": section " + std::to_string(tag) + " holds " +
                           std::to_string(s->size()) + " bytes, expected " + std::to_string(size));
  }
  return s;
}

}  // namespace safeguard::index_internal
