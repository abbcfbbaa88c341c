#include "safeguard/bank/plain_list.h"

#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include "test_support.h"

namespace safeguard {
namespace {

using test_support::RandomHex;

class PlainListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Store>> s = OpenStore("sqlite::memory:");
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    BankSpec spec;
    spec.name = "list";
    ASSERT_TRUE(store_->CreateBank(spec, 1).ok());
  }

  Result<ImportReport> Import(const std::string& text, SignalType signal, bool skip = false) {
    std::istringstream in(text);
    ImportOptions o;
    o.signal = signal;
    o.skip_invalid = skip;
    o.source = "test.txt";
    o.added_by = "tester";
    o.now = 42;
    o.labels = {{"kind", "image"}};
    return ImportPlainList(*store_, "list", in, o);
  }

  std::string Export(SignalType signal) {
    std::ostringstream out;
    Result<int64_t> n = ExportPlainList(*store_, "list", signal, out);
    EXPECT_TRUE(n.ok());
    return out.str();
  }

  int64_t Live() { return store_->CountEntries(store_->GetBank("list")->id)->live; }

  std::unique_ptr<Store> store_;
};

TEST_F(PlainListTest, ImportsRoundTripsAndIsIdempotent) {
  std::mt19937_64 rng(7);
  std::string list, expected;
  for (int i = 0; i < 50; ++i) {
    std::string h = RandomHex(rng, 64);
    expected += h + "\n";
    // Upper case, CRLF, spaces, comments and blank lines are all accepted.
    std::string shown = h;
    if (i % 3 == 0) {
      for (char& c : shown) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    list += (i % 5 == 0 ? "  " : "") + shown + (i % 2 == 0 ? "\r\n" : "\n");
    if (i % 10 == 0) list += "# a comment\n\n";
  }
  list.pop_back();  // no newline at the end
  Result<ImportReport> r = Import(list, SignalType::kPdq);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->added, 50);
  EXPECT_EQ(r->unchanged, 0);
  EXPECT_EQ(Export(SignalType::kPdq), expected);
  EXPECT_EQ(Export(SignalType::kMd5), "");

  Result<ImportReport> again = Import(expected, SignalType::kPdq);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->added, 0);
  EXPECT_EQ(again->unchanged, 50);
  EXPECT_EQ(Live(), 50);

  // Provenance and labels.
  Bank bank = *store_->GetBank("list");
  ASSERT_TRUE(store_
                  ->ForEachEntry(bank.id, {},
                                 [](const Entry& e) {
                                   EXPECT_EQ(e.provenance.source, "test.txt");
                                   EXPECT_EQ(e.provenance.added_by, "tester");
                                   EXPECT_EQ(e.provenance.added_at, 42);
                                   EXPECT_EQ(e.labels.at("kind"), "image");
                                   return Status::Ok();
                                 })
                  .ok());
}

TEST_F(PlainListTest, MalformedLineRefusesWholeFileWithLineNumber) {
  std::mt19937_64 rng(8);
  std::string list = RandomHex(rng, 32) + "\n" + RandomHex(rng, 32) + "\n\nnot-a-hash\n" +
                     RandomHex(rng, 32) + "\n";
  Result<ImportReport> r = Import(list, SignalType::kMd5);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("line 4:"), std::string::npos) << r.status().message();
  EXPECT_EQ(Live(), 0);                   // nothing imported
  EXPECT_EQ(*store_->LastSequence(), 1);  // only the bank's creation is logged

  // Wrong length for the signal: line 1.
  Result<ImportReport> sha1 = Import(RandomHex(rng, 32) + "\n", SignalType::kSha1);
  ASSERT_FALSE(sha1.ok());
  EXPECT_NE(sha1.status().message().find("line 1:"), std::string::npos);
}

TEST_F(PlainListTest, SkipInvalidImportsTheRestAndReports) {
  std::mt19937_64 rng(9);
  std::string list = RandomHex(rng, 40) + "\nzz\n" + std::string(kMaxImportLineBytes + 10, 'a') +
                     "\n" + RandomHex(rng, 40) + "\n";
  Result<ImportReport> strict = Import(list, SignalType::kSha1);
  ASSERT_FALSE(strict.ok());
  EXPECT_NE(strict.status().message().find("line 2:"), std::string::npos);

  Result<ImportReport> r = Import(list, SignalType::kSha1, /*skip=*/true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->lines, 4);
  EXPECT_EQ(r->added, 2);
  EXPECT_EQ(r->skipped, 2);
  ASSERT_EQ(r->skip_reasons.size(), 2u);
  EXPECT_EQ(r->skip_reasons[0].rfind("line 2:", 0), 0u);
  EXPECT_EQ(r->skip_reasons[1].rfind("line 3:", 0), 0u);
  EXPECT_NE(r->skip_reasons[1].find("longer than"), std::string::npos);
  EXPECT_EQ(Live(), 2);
}

TEST_F(PlainListTest, UnknownBankIsNotFound) {
  std::istringstream in("");
  EXPECT_EQ(ImportPlainList(*store_, "nope", in, {}).status().code(), ErrorCode::kNotFound);
  std::ostringstream out;
  EXPECT_EQ(ExportPlainList(*store_, "nope", SignalType::kPdq, out).status().code(),
            ErrorCode::kNotFound);
}

// Video signatures are not list values: a plain list of them is refused
// (and so is an export), pointing to the signature formats.
TEST_F(PlainListTest, SignaturesAreRefused) {
  for (SignalType signal : {SignalType::kVpdq, SignalType::kTmk}) {
    Result<ImportReport> r = Import(std::string(64, 'a') + "\n", signal);
    ASSERT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("signature"), std::string::npos) << r.status().message();
    std::ostringstream out;
    EXPECT_EQ(ExportPlainList(*store_, "list", signal, out).status().code(),
              ErrorCode::kInvalidArgument);
  }
}

TEST_F(PlainListTest, StreamsManyLines) {
  std::mt19937_64 rng(10);
  std::string list;
  for (int i = 0; i < 20000; ++i) list += RandomHex(rng, 64) + "\n";
  Result<ImportReport> r = Import(list, SignalType::kSha256);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->added, 20000);
  EXPECT_EQ(Export(SignalType::kSha256), list);
}

}  // namespace
}  // namespace safeguard
