#include "safeguard/bank/signatures.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "safeguard/bank/matcher.h"
#include "test_support.h"

namespace safeguard {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> FilesIn(const std::string& dir, std::string_view suffix) {
  std::vector<std::string> out;
  for (const auto& f : fs::directory_iterator(dir)) {
    const std::string name = f.path().filename().string();
    if (name.ends_with(suffix) && name.find("128x128") == std::string::npos) {
      out.push_back(f.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string ReadText(const std::string& path) {
  const std::vector<uint8_t> b = test_support::ReadBytes(path);
  return std::string(b.begin(), b.end());
}

class SignaturesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(*OpenStore("sqlite::memory:"));
    BankSpec spec;
    spec.name = "videos";
    bank_id_ = store_->CreateBank(spec, 1)->id;
  }
  Store::EntryCounts Counts() { return *store_->CountEntries(bank_id_); }

  std::unique_ptr<Store> store_;
  int64_t bank_id_ = 0;
};

// The reference's .tmk files go in, come out byte for byte, and a second
// import of the same files changes nothing.
TEST_F(SignaturesTest, TmkFilesRoundTripByteForByte) {
  SAFEGUARD_REQUIRE_TESTDATA();
  const std::vector<std::string> files =
      FilesIn(test_support::TestDataDir() + "/tmk/sample-hashes", ".tmk");
  ASSERT_EQ(files.size(), 15u);
  ImportOptions options;
  options.now = 7;
  options.added_by = "tester";
  Result<ImportReport> r =
      ImportSignatureFiles(*store_, "videos", SignalType::kTmk, files, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->lines, 15);
  EXPECT_EQ(r->added, 15);
  r = ImportSignatureFiles(*store_, "videos", SignalType::kTmk, files, options);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->unchanged, 15);
  EXPECT_EQ(Counts().live, 15);

  // Provenance: the file's name without extension.
  std::map<std::string, std::string> by_key;  // value -> source_id
  ASSERT_TRUE(store_
                  ->ForEachEntry(bank_id_, {},
                                 [&](const Entry& e) {
                                   EXPECT_EQ(e.signal, SignalType::kTmk);
                                   by_key[e.value] = e.provenance.source_id;
                                   return Status::Ok();
                                 })
                  .ok());
  test_support::ScratchDir scratch;
  const fs::path out = scratch.path() / "export";
  Result<int64_t> n = ExportSignatureFiles(*store_, "videos", SignalType::kTmk, out.string());
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 15);
  for (const std::string& f : files) {
    const std::string bytes = ReadText(f);
    const std::string key = PayloadKey(bytes);
    ASSERT_TRUE(by_key.contains(key)) << f;
    EXPECT_EQ(by_key[key] + ".tmk", fs::path(f).filename().string());
    EXPECT_EQ(ReadText((out / (key + ".tmk")).string()), bytes) << f;
  }
}

// vPDQ text files: stored canonically, exported files parse to the same
// frames, and a clip imported this way is found by its own frames.
TEST_F(SignaturesTest, VpdqFilesImportExportAndMatch) {
  SAFEGUARD_REQUIRE_TESTDATA();
  const std::vector<std::string> files =
      FilesIn(test_support::TestDataDir() + "/vpdq/sample-hashes", ".txt");
  ASSERT_GE(files.size(), 10u);
  Result<ImportReport> r = ImportSignatureFiles(*store_, "videos", SignalType::kVpdq, files, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->added, static_cast<int64_t>(files.size()));
  test_support::ScratchDir scratch;
  const fs::path out = scratch.path() / "export";
  ASSERT_EQ(*ExportSignatureFiles(*store_, "videos", SignalType::kVpdq, out.string()),
            static_cast<int64_t>(files.size()));
  Result<BankMatcher> m = BankMatcher::Build(*store_);
  ASSERT_TRUE(m.ok());
  for (const std::string& f : files) {
    const Result<std::vector<VpdqFrame>> frames = ParseVpdq(ReadText(f));
    ASSERT_TRUE(frames.ok());
    const std::string key = PayloadKey(FormatVpdq(*frames));
    const Result<std::vector<VpdqFrame>> exported =
        ParseVpdq(ReadText((out / (key + ".vpdq.txt")).string()));
    ASSERT_TRUE(exported.ok()) << f;
    EXPECT_EQ(*exported, *ParseVpdq(FormatVpdq(*frames))) << f;
    Result<MatchResult> hits = m->MatchVpdq(*frames);
    ASSERT_TRUE(hits.ok());
    bool self = false;
    for (const BankHit& h : hits->matches)
      self = self || store_->GetEntry(h.entry_id)->value == key;
    EXPECT_TRUE(self) << f;
  }
}

// A file that is not a signature of the kind asked for fails the whole
// import, naming the file, and the bank is unchanged; with skip_invalid it
// is reported and the rest imported.
TEST_F(SignaturesTest, BadFilesAreRefusedOrSkipped) {
  SAFEGUARD_REQUIRE_TESTDATA();
  test_support::ScratchDir dir;
  const std::string good = test_support::TestDataDir() + "/tmk/sample-hashes/chair-19-sd-bar.tmk";
  std::string tmk = ReadText(good);
  const std::string truncated = dir.Write("truncated.tmk", std::string_view(tmk).substr(0, 1000));
  const std::string text = dir.Write("frames.tmk", "0,100," + std::string(64, 'a') + ",0.000\n");
  const std::string missing = dir.File("missing.tmk");
  for (const std::string& bad : {truncated, text, missing}) {
    Result<ImportReport> r =
        ImportSignatureFiles(*store_, "videos", SignalType::kTmk, {good, bad}, {});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find(bad), std::string::npos) << r.status().ToString();
    EXPECT_EQ(Counts().live, 0);
  }
  ImportOptions skip;
  skip.skip_invalid = true;
  Result<ImportReport> r =
      ImportSignatureFiles(*store_, "videos", SignalType::kTmk, {truncated, good, text}, skip);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->added, 1);
  EXPECT_EQ(r->skipped, 2);
  EXPECT_EQ(Counts().live, 1);
  // A vPDQ file of frames is not a TMK, and the reverse; hash signals are
  // not signature files; an unknown bank.
  EXPECT_EQ(CanonicalSignature(SignalType::kVpdq, tmk).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(CanonicalSignature(SignalType::kVpdq, "").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(ImportSignatureFiles(*store_, "videos", SignalType::kPdq, {good}, {}).ok());
  EXPECT_EQ(ImportSignatureFiles(*store_, "nope", SignalType::kTmk, {good}, {}).status().code(),
            ErrorCode::kNotFound);
}

}  // namespace
}  // namespace safeguard
