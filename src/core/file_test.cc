#include "safeguard/core/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "test_support.h"

namespace safeguard {
namespace {

namespace fs = std::filesystem;

class InputFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& bytes) {
    return scratch_.Write(name, bytes);
  }
  test_support::ScratchDir scratch_;
  const fs::path& dir_ = scratch_.path();
};

TEST_F(InputFileTest, ReadsInPiecesUpToEndOfFile) {
  const std::string p = Write("a.bin", "hello, world");
  Result<InputFile> f = InputFile::Open(p);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->size(), 12u);
  EXPECT_EQ(f->path(), p);
  uint8_t buf[5];
  Result<size_t> n = f->Read(buf, 5);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 5u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), 5), "hello");
  std::vector<uint8_t> rest;
  ASSERT_TRUE(f->ReadRest(&rest, 100).ok());
  EXPECT_EQ(std::string(rest.begin(), rest.end()), ", world");
  EXPECT_EQ(*f->Read(buf, 5), 0u);  // at end of file
}

TEST_F(InputFileTest, ErrorsNameThePathAndCarryTheRightCode) {
  Result<InputFile> missing = InputFile::Open((dir_ / "nope").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);

  Result<InputFile> through = InputFile::Open(Write("f", "x") + "/child");
  EXPECT_EQ(through.status().code(), ErrorCode::kNotFound);

  Result<InputFile> dir = InputFile::Open(dir_.string());
  EXPECT_EQ(dir.status().code(), ErrorCode::kInvalidArgument);

  // A FIFO with no writer: refused at once, never a blocked open.
  const std::string fifo = (dir_ / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Result<InputFile> pipe = InputFile::Open(fifo);
  EXPECT_EQ(pipe.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(pipe.status().message().find("not a regular file"), std::string::npos);
}

TEST_F(InputFileTest, ReadFileBoundedRefusesLargeFilesBeforeReading) {
  const std::string p = Write("big", std::string(5000, 'z'));
  Result<std::vector<uint8_t>> all = ReadFileBounded(p, 5000);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 5000u);
  Result<std::vector<uint8_t>> over = ReadFileBounded(p, 4999);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), ErrorCode::kLimitExceeded);
  EXPECT_NE(over.status().message().find("5000 bytes exceeds max_file_bytes 4999"),
            std::string::npos);
  Result<std::vector<uint8_t>> empty = ReadFileBounded(Write("empty", ""), 10);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_F(InputFileTest, ReadRestNoticesAFileThatGrewPastTheLimit) {
  const std::string p = Write("grows", "0123456789");
  Result<InputFile> f = InputFile::Open(p);
  ASSERT_TRUE(f.ok());
  std::ofstream(p, std::ios::binary | std::ios::app) << std::string(100, 'g');
  std::vector<uint8_t> bytes;
  Status s = f->ReadRest(&bytes, 50);
  EXPECT_EQ(s.code(), ErrorCode::kLimitExceeded);
  EXPECT_LE(bytes.size(), 51u);
  // Without a limit in the way, the grown file is read whole.
  Result<InputFile> g = InputFile::Open(p);
  ASSERT_TRUE(g.ok());
  std::vector<uint8_t> all;
  ASSERT_TRUE(g->ReadRest(&all, 1000).ok());
  EXPECT_EQ(all.size(), 110u);
}

TEST_F(InputFileTest, MovedFromFileIsInert) {
  Result<InputFile> f = InputFile::Open(Write("m", "abc"));
  ASSERT_TRUE(f.ok());
  InputFile moved = std::move(*f);
  uint8_t buf[3];
  EXPECT_EQ(*moved.Read(buf, 3), 3u);
}

}  // namespace
}  // namespace safeguard
