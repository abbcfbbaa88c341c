#include "safeguard/bank/formats.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "safeguard/bank/signatures.h"
#include "test_support.h"

namespace safeguard {
namespace {

using test_support::RandomHex;

class FormatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(*OpenStore("sqlite::memory:"));
    for (const char* name : {"a", "b"}) {
      BankSpec spec;
      spec.name = name;
      ASSERT_TRUE(store_->CreateBank(spec, 1).ok());
    }
  }

  Result<ImportReport> Import(const std::string& bank, ExchangeFormat f, const std::string& text,
                              bool skip = false, SignalType signal = SignalType::kPdq) {
    std::istringstream in(text);
    ImportOptions o;
    o.signal = signal;
    o.skip_invalid = skip;
    o.source = "sample";
    o.now = 7;
    return ImportList(*store_, bank, f, in, o);
  }

  std::string Export(const std::string& bank, ExchangeFormat f,
                     std::optional<SignalType> signal = std::nullopt) {
    std::ostringstream out;
    Result<int64_t> n = ExportList(*store_, bank, f, signal, out);
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return out.str();
  }

  // (signal, value, source_id, labels) of the live entries, in id order.
  std::vector<std::string> Entries(const std::string& bank) {
    std::vector<std::string> out;
    EXPECT_TRUE(store_
                    ->ForEachEntry(store_->GetBank(bank)->id, {},
                                   [&](const Entry& e) {
                                     std::string labels;
                                     for (const auto& [k, v] : e.labels)
                                       labels += k + "=" + v + ";";
                                     out.push_back(std::string(SignalTypeName(e.signal)) + " " +
                                                   e.value + " " + e.provenance.source_id + " " +
                                                   labels);
                                     return Status::Ok();
                                   })
                    .ok());
    return out;
  }

  std::unique_ptr<Store> store_;
};

TEST_F(FormatsTest, NamesRoundTrip) {
  for (const char* n : {"plain", "csv", "threatexchange", "stopncii", "vics", "ncmec"}) {
    EXPECT_EQ(ExchangeFormatName(*ParseExchangeFormat(n)), n);
  }
  EXPECT_FALSE(ParseExchangeFormat("xml").ok());
}

TEST_F(FormatsTest, CsvImportExportRoundTrip) {
  std::mt19937_64 rng(31);
  const std::string pdq = RandomHex(rng, 64), md5 = RandomHex(rng, 32), sha1 = RandomHex(rng, 40);
  const std::string csv =
      "Signal,Hash,source_id,labels\n"
      "pdq," +
      pdq +
      ",id-1,category=A1;kind=image\n"
      "md5," +
      md5 +
      ",\"id,2\",\n"
      "\n"
      "sha1," +
      sha1 + ",id-3,category=B\r\n";
  Result<ImportReport> r = Import("a", ExchangeFormat::kCsv, csv);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->added, 3);
  const std::vector<std::string> before = Entries("a");
  ASSERT_EQ(before.size(), 3u);
  EXPECT_EQ(before[0], "pdq " + pdq + " id-1 category=A1;kind=image;");
  EXPECT_EQ(before[1], "md5 " + md5 + " id,2 ");

  const std::string exported = Export("a", ExchangeFormat::kCsv);
  ASSERT_TRUE(Import("b", ExchangeFormat::kCsv, exported).ok());
  EXPECT_EQ(Entries("b"), before);
  EXPECT_EQ(Export("b", ExchangeFormat::kCsv), exported);

  // Deletion by a later file.
  r = Import("b", ExchangeFormat::kCsv, "value,signal,deleted\n" + md5 + ",md5,true\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->removed, 1);
  EXPECT_EQ(Entries("b").size(), 2u);

  // Without a signal column, the given signal applies.
  r = Import("b", ExchangeFormat::kCsv, "hash\n" + RandomHex(rng, 64) + "\n", false,
             SignalType::kSha256);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Export("b", ExchangeFormat::kPlain, SignalType::kSha256).size(), 65u);
}

TEST_F(FormatsTest, CsvMalformedNamesTheLine) {
  std::mt19937_64 rng(32);
  const std::string ok = "pdq," + RandomHex(rng, 64) + "\n";
  struct Case {
    std::string text;
    std::string where;
  } cases[] = {
      {"", "line 1:"},
      {"signal,source_id\n", "line 1:"},
      {"signal,value\n" + ok + "pdq,abc\n", "line 3:"},
      {"signal,value\n" + ok + ok + "tmk," + RandomHex(rng, 64) + "\n", "line 4:"},
      {"signal,value\n" + ok + "pdq\n", "line 3:"},
      {"signal,value\n\"pdq," + RandomHex(rng, 64) + "\n", "line 2:"},
      {"signal,value,deleted\npdq," + RandomHex(rng, 64) + ",maybe\n", "line 2:"},
      {"signal,value,labels\npdq," + RandomHex(rng, 64) + ",novalue\n", "line 2:"},
  };
  for (const Case& c : cases) {
    Result<ImportReport> r = Import("a", ExchangeFormat::kCsv, c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.where), std::string::npos)
        << c.text << " -> " << r.status().message();
  }
  EXPECT_TRUE(Entries("a").empty());  // every refusal left the bank unchanged
  Result<ImportReport> r =
      Import("a", ExchangeFormat::kCsv, "signal,value\n" + ok + "pdq,abc\n" + ok, true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->skipped, 1);
  EXPECT_EQ(r->added, 1);
  EXPECT_EQ(r->unchanged, 1);
}

TEST_F(FormatsTest, ThreatExchangeRecords) {
  std::mt19937_64 rng(33);
  const std::string pdq = RandomHex(rng, 64), md5 = RandomHex(rng, 32);
  nlohmann::json doc = {
      {"data",
       {{{"id", "1001"}, {"type", "HASH_PDQ"}, {"indicator", pdq}, {"tags", {"t1", "t2"}}},
        {{"id", "1002"},
         {"type", "HASH_MD5"},
         {"indicator", md5},
         {"tags", nlohmann::json::array()}},
        {{"id", "1003"},
         {"type", "HASH_SHA256"},
         {"indicator", RandomHex(rng, 64)},
         {"should_delete", false}}}}};
  Result<ImportReport> r = Import("a", ExchangeFormat::kThreatExchange, doc.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->added, 3);
  EXPECT_EQ(Entries("a")[0], "pdq " + pdq + " 1001 tags=t1,t2;");

  const std::string exported = Export("a", ExchangeFormat::kThreatExchange);
  ASSERT_TRUE(Import("b", ExchangeFormat::kThreatExchange, exported).ok());
  EXPECT_EQ(Entries("b"), Entries("a"));

  nlohmann::json del = {
      {"data",
       {{{"id", "1002"}, {"type", "HASH_MD5"}, {"indicator", md5}, {"should_delete", true}}}}};
  r = Import("b", ExchangeFormat::kThreatExchange, del.dump());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->removed, 1);
  EXPECT_EQ(Entries("b").size(), 2u);

  nlohmann::json bad = {{"data",
                         {{{"type", "HASH_PDQ"}, {"indicator", pdq}},
                          {{"type", "HASH_TMK"}, {"indicator", "x"}},
                          {{"type", "HASH_MD5"}, {"indicator", "zz"}}}}};
  r = Import("b", ExchangeFormat::kThreatExchange, bad.dump());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("record 2:"), std::string::npos) << r.status().message();
  r = Import("b", ExchangeFormat::kThreatExchange, bad.dump(), true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->skipped, 2);
  EXPECT_EQ(r->skip_reasons[1].rfind("record 3:", 0), 0u);
  r = Import("b", ExchangeFormat::kThreatExchange, "{\"data\": [1, 2");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("byte"), std::string::npos);
  EXPECT_FALSE(Import("b", ExchangeFormat::kThreatExchange, "{}").ok());
}

TEST_F(FormatsTest, StopNciiRecordsHonourWithdrawals) {
  std::mt19937_64 rng(34);
  const std::string pdq = RandomHex(rng, 64), md5 = RandomHex(rng, 32);
  nlohmann::json doc = {{"hashRecords",
                         {{{"signalType", "PDQ"},
                           {"hashValue", pdq},
                           {"hashStatus", "Active"},
                           {"caseNumbers", {"C-1"}}},
                          {{"signalType", "MD5"}, {"hashValue", md5}, {"hashStatus", "Active"}}}}};
  Result<ImportReport> r = Import("a", ExchangeFormat::kStopNcii, doc.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->added, 2);
  const std::string exported = Export("a", ExchangeFormat::kStopNcii);
  ASSERT_TRUE(Import("b", ExchangeFormat::kStopNcii, exported).ok());
  EXPECT_EQ(Entries("b"), Entries("a"));

  nlohmann::json withdraw = {
      {"hashRecords",
       {{{"signalType", "PDQ"}, {"hashValue", pdq}, {"hashStatus", "Withdrawn"}},
        {{"signalType", "MD5"}, {"hashValue", md5}, {"hashStatus", "Deleted"}}}}};
  r = Import("b", ExchangeFormat::kStopNcii, withdraw.dump());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->removed, 2);
  EXPECT_TRUE(Entries("b").empty());

  nlohmann::json bad = {
      {"hashRecords", {{{"signalType", "PDQ"}, {"hashValue", pdq}, {"hashStatus", "Maybe"}}}}};
  r = Import("b", ExchangeFormat::kStopNcii, bad.dump());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("record 1:"), std::string::npos);
}

TEST_F(FormatsTest, VicsMediaWithCategory) {
  std::mt19937_64 rng(35);
  const std::string md5 = RandomHex(rng, 32), sha1 = RandomHex(rng, 40);
  nlohmann::json doc = {{"odata.metadata", "http://example.invalid/$metadata"},
                        {"value",
                         {{{"CaseID", 1},
                           {"Media",
                            {{{"MediaID", 11}, {"Category", 1}, {"MD5", md5}, {"SHA1", sha1}},
                             {{"MediaID", 12}, {"Category", 2}, {"MD5", RandomHex(rng, 32)}}}}}}}};
  Result<ImportReport> r = Import("a", ExchangeFormat::kVics, doc.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->added, 3);
  EXPECT_EQ(Entries("a")[0], "md5 " + md5 + " 11 category=1;");
  EXPECT_EQ(Entries("a")[1], "sha1 " + sha1 + " 11 category=1;");
  const std::string exported = Export("a", ExchangeFormat::kVics);
  ASSERT_TRUE(Import("b", ExchangeFormat::kVics, exported).ok());
  EXPECT_EQ(Entries("b"), Entries("a"));

  nlohmann::json bad = {{"Media", {{{"MediaID", 1}, {"MD5", md5}}, {{"MediaID", 2}}}}};
  r = Import("b", ExchangeFormat::kVics, bad.dump());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("record 2:"), std::string::npos);
  EXPECT_FALSE(Import("b", ExchangeFormat::kVics, "{\"value\": []}").ok());
}

TEST_F(FormatsTest, NcmecXmlWithDeletions) {
  std::mt19937_64 rng(36);
  const std::string md5 = RandomHex(rng, 32), sha1 = RandomHex(rng, 40), pdq = RandomHex(rng, 64);
  const std::string md5b = RandomHex(rng, 32);
  const std::string xml = R"(<?xml version="1.0"?>
<queryResult>
  <images count="2">
    <image>
      <id>100</id>
      <classification>A1</classification>
      <fingerprints><md5>)" +
                          md5 + "</md5><sha1>" + sha1 + "</sha1><PDQ>" + pdq +
                          R"(</PDQ><pdna>ignored</pdna></fingerprints>
    </image>
    <video>
      <id>200</id>
      <fingerprints><md5>)" +
                          md5b + R"(</md5></fingerprints>
    </video>
  </images>
</queryResult>)";
  Result<ImportReport> r = Import("a", ExchangeFormat::kNcmecXml, xml);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->added, 4);
  EXPECT_EQ(Entries("a")[0], "md5 " + md5 + " 100 classification=A1;");
  const std::string exported = Export("a", ExchangeFormat::kNcmecXml);
  ASSERT_TRUE(Import("b", ExchangeFormat::kNcmecXml, exported).ok()) << exported;
  EXPECT_EQ(Entries("b"), Entries("a"));

  // Deletions: by id (no fingerprints), and by fingerprint.
  const std::string deletions = R"(<queryResult><deletedEntries>
    <image><id>100</id></image>
    <video><fingerprints><md5>)" +
                                md5b + R"(</md5></fingerprints></video>
  </deletedEntries></queryResult>)";
  r = Import("b", ExchangeFormat::kNcmecXml, deletions);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->removed, 4);
  EXPECT_TRUE(Entries("b").empty());

  // Malformed: element numbers, and the XML parser's byte offset.
  const std::string bad = "<queryResult><images><image><id>1</id><fingerprints><md5>" + md5 +
                          "</md5></fingerprints></image><image><id>2</id><fingerprints><sha1>" +
                          "xyz</sha1></fingerprints></image></images></queryResult>";
  r = Import("b", ExchangeFormat::kNcmecXml, bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("element 2"), std::string::npos) << r.status().message();
  EXPECT_TRUE(Entries("b").empty());
  r = Import("b", ExchangeFormat::kNcmecXml, "<queryResult><images><image>");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("byte"), std::string::npos);
  EXPECT_FALSE(Import("b", ExchangeFormat::kNcmecXml, "<queryResult/>").ok());
  r = Import("b", ExchangeFormat::kNcmecXml, bad, true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->revived, 1);  // deleted above, back again
  EXPECT_EQ(r->skipped, 1);
}

// An entry that one file both adds and deletes ends up deleted, wherever the
// <deletedEntries> list stands, and the counts reported agree with the bank.
// The export of the bank that leaves (no live entry) imports again.
// NCMEC's TMK_PDQF: a .tmk inside <tmk_pdqf>, read as base64 or hex, stored
// as the same signature (one entry), exported under <videos> as base64 and
// imported again; deleted by its fingerprint; a damaged one names its
// element; list formats refuse signatures with a pointer to the files.
TEST_F(FormatsTest, NcmecTmkPdqf) {
  SAFEGUARD_REQUIRE_TESTDATA();
  const std::vector<uint8_t> file = test_support::ReadBytes(
      test_support::TestDataDir() + "/tmk/sample-hashes/chair-19-sd-bar.tmk");
  const std::string tmk(file.begin(), file.end());
  std::string hex;
  for (unsigned char c : tmk) {
    static constexpr char kDigits[] = "0123456789ABCDEF";
    hex += kDigits[c >> 4];
    hex += kDigits[c & 15];
  }
  const std::string base64 = SignatureToText(tmk);
  ASSERT_EQ(*SignatureFromText(base64), tmk);
  // Line breaks inside the text are ignored, as MIME base64 has them.
  ASSERT_EQ(*SignatureFromText(base64.substr(0, 76) + "\n" + base64.substr(76)), tmk);
  auto video = [](const std::string& id, const std::string& tmk_text) {
    return "<video><id>" + id + "</id><classification>A1</classification><fingerprints>" +
           "<tmk_pdqf>" + tmk_text + "</tmk_pdqf></fingerprints></video>";
  };
  Result<ImportReport> r = Import(
      "a", ExchangeFormat::kNcmecXml,
      "<queryResult><videos>" + video("v1", base64) + video("v2", hex) + "</videos></queryResult>");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->added, 1);
  EXPECT_EQ(r->unchanged, 1);
  const std::string key = PayloadKey(tmk);
  EXPECT_EQ(Entries("a"), std::vector<std::string>{"tmk " + key + " v1 classification=A1;"});
  const std::string exported = Export("a", ExchangeFormat::kNcmecXml);
  EXPECT_NE(exported.find("<videos>"), std::string::npos) << exported.substr(0, 300);
  ASSERT_TRUE(Import("b", ExchangeFormat::kNcmecXml, exported).ok());
  EXPECT_EQ(Entries("b"), Entries("a"));
  Result<Entry> stored = store_->GetEntry(1);
  EXPECT_EQ(stored->payload, tmk);
  // Formats without signatures leave it out of their exports.
  EXPECT_EQ(Export("a", ExchangeFormat::kCsv), "signal,value,source_id,labels\n");

  r = Import(
      "b", ExchangeFormat::kNcmecXml,
      "<queryResult><deletedEntries>" + video("", base64) + "</deletedEntries></queryResult>");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->removed, 1);
  EXPECT_TRUE(Entries("b").empty());

  for (const std::string& bad : {std::string("not a signature!"), base64.substr(0, 400)}) {
    r = Import("b", ExchangeFormat::kNcmecXml,
               "<queryResult><videos>" + video("v3", bad) + "</videos></queryResult>");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("element 1"), std::string::npos) << r.status().message();
  }
  r = Import("b", ExchangeFormat::kCsv, "signal,value\ntmk," + key + "\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("line 2"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("--format tmk"), std::string::npos);
  EXPECT_TRUE(Entries("b").empty());
}

// Ids, classifications and values laid out on lines of their own keep only
// their text, so that an export imports again to the same entries.
TEST_F(FormatsTest, NcmecTextAroundValuesIsTrimmed) {
  const std::string md5(32, 'c');
  Result<ImportReport> r =
      Import("a", ExchangeFormat::kNcmecXml,
             "<queryResult><images><image>\n  <id>\n    7\n  </id>\n  <classification>\n\n"
             "</classification>\n  <fingerprints><md5>\n    " +
                 md5 + "\n  </md5></fingerprints>\n</image></images></queryResult>");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Entries("a"), std::vector<std::string>{"md5 " + md5 + " 7 "});
  ASSERT_TRUE(Import("b", ExchangeFormat::kNcmecXml, Export("a", ExchangeFormat::kNcmecXml)).ok());
  EXPECT_EQ(Entries("b"), Entries("a"));
}

TEST_F(FormatsTest, NcmecAddedAndDeletedInOneImport) {
  std::mt19937_64 rng(37);
  const std::string md5 = RandomHex(rng, 32), md5b = RandomHex(rng, 32), pdq = RandomHex(rng, 64);
  const std::string image =
      "<image><id>2</id><classification>A1</classification><fingerprints><md5>" + md5 +
      "</md5><pdq>" + pdq + "</pdq></fingerprints></image>";
  const std::string by_id = "<deletedEntries><video><id>2</id></video></deletedEntries>";
  for (const std::string& xml :
       {"<queryResult><images>" + image + "</images>" + by_id + "</queryResult>",
        "<queryResult>" + by_id + "<images>" + image + "</images></queryResult>"}) {
    SetUp();
    Result<ImportReport> r = Import("a", ExchangeFormat::kNcmecXml, xml);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->added, 2);
    EXPECT_EQ(r->removed, 2);
    const Store::EntryCounts counts = *store_->CountEntries(store_->GetBank("a")->id);
    EXPECT_EQ(counts.live, 0) << xml;
    EXPECT_EQ(counts.removed, 2) << xml;
    // The empty bank's export is a valid (empty) NCMEC document.
    const std::string exported = Export("a", ExchangeFormat::kNcmecXml);
    r = Import("b", ExchangeFormat::kNcmecXml, exported);
    ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << exported;
    EXPECT_EQ(r->lines, 0);
    EXPECT_TRUE(Entries("b").empty());
  }

  // Deleted by fingerprint before the element that adds it; the other
  // fingerprint of that element stays.
  SetUp();
  const std::string xml = "<queryResult><deletedEntries><image><fingerprints><md5>" + md5 +
                          "</md5></fingerprints></image></deletedEntries><images>" + image +
                          "<video deleted=\"true\"><id>9</id><fingerprints><md5>" + md5b +
                          "</md5></fingerprints></video><video><id>9</id><fingerprints><md5>" +
                          md5b + "</md5></fingerprints></video></images></queryResult>";
  Result<ImportReport> r = Import("a", ExchangeFormat::kNcmecXml, xml);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->added, 3);
  EXPECT_EQ(r->removed, 2);
  EXPECT_EQ(Entries("a"), std::vector<std::string>{"pdq " + pdq + " 2 classification=A1;"});
  // Still refused: a document with neither elements nor a list.
  EXPECT_FALSE(Import("b", ExchangeFormat::kNcmecXml, "<queryResult/>").ok());
  EXPECT_FALSE(Import("b", ExchangeFormat::kNcmecXml, "<html><body/></html>").ok());
}

}  // namespace
}  // namespace safeguard
