#include "safeguard/store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <random>

#include "pg_test_server.h"
#include "sqlite_schema.h"
#include "test_support.h"

namespace safeguard {
namespace {

using test_support::RandomHex;

Entry MakeEntry(SignalType signal, std::string value, int64_t time = 100) {
  Entry e;
  e.signal = signal;
  e.value = std::move(value);
  e.labels = {{"category", "B"}};
  e.provenance = {"list.txt", "id-1", time, "tester"};
  return e;
}

// Every StoreTest runs against each back end: "sqlite" (in memory) and
// "postgres" (a throwaway server; skipped, saying why, if it cannot start).
class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string url = "sqlite::memory:";
    if (GetParam() == "postgres") {
      test_support::PgTestServer& pg = test_support::PgTestServer::Get();
      if (!pg.ok()) GTEST_SKIP() << "PostgreSQL test server could not start: " << pg.reason();
      url = pg.NewDatabase();
      ASSERT_TRUE(url.starts_with("postgresql://")) << pg.reason();
    }
    Result<std::unique_ptr<Store>> s = OpenStore(url);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  std::unique_ptr<Store> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return param.param;
                         });

TEST(SignalValueTest, NormalizesAndRefuses) {
  Result<std::string> md5 = NormalizeSignalValue(SignalType::kMd5, std::string(32, 'A'));
  ASSERT_TRUE(md5.ok());
  EXPECT_EQ(*md5, std::string(32, 'a'));
  EXPECT_FALSE(NormalizeSignalValue(SignalType::kMd5, std::string(31, 'a')).ok());
  EXPECT_FALSE(NormalizeSignalValue(SignalType::kSha1, std::string(40, 'g')).ok());
  EXPECT_TRUE(NormalizeSignalValue(SignalType::kSha1, std::string(40, 'f')).ok());
  EXPECT_TRUE(NormalizeSignalValue(SignalType::kPdq, std::string(64, '0')).ok());
  EXPECT_TRUE(NormalizeSignalValue(SignalType::kSha256, std::string(64, '9')).ok());
  for (SignalType t :
       {SignalType::kPdq, SignalType::kMd5, SignalType::kSha1, SignalType::kSha256}) {
    EXPECT_EQ(*ParseSignalType(SignalTypeName(t)), t);
  }
  EXPECT_FALSE(ParseSignalType("tmk").ok());
  EXPECT_EQ(*ParseBankKind("allow"), BankKind::kAllow);
  EXPECT_FALSE(ParseBankKind("deny").ok());
}

TEST_P(StoreTest, CreatesListsAndRefusesBanks) {
  auto& store = store_;
  BankSpec spec;
  spec.name = "hotline";
  spec.description = "a test list";
  spec.source = "synthetic";
  spec.labels = {{"severity", "A"}};
  Result<Bank> bank = store->CreateBank(spec, 10);
  ASSERT_TRUE(bank.ok()) << bank.status().ToString();
  EXPECT_EQ(bank->spec.name, "hotline");
  EXPECT_EQ(bank->spec.kind, BankKind::kBlock);
  EXPECT_EQ(bank->spec.labels.at("severity"), "A");
  EXPECT_EQ(bank->spec.pdq_max_distance, 31);
  EXPECT_EQ(bank->spec.pdq_min_quality, 50);
  EXPECT_EQ(bank->created_at, 10);

  EXPECT_EQ(store->CreateBank(spec, 11).status().code(), ErrorCode::kInvalidArgument);
  BankSpec bad;
  bad.name = "has space";
  EXPECT_EQ(store->CreateBank(bad, 11).status().code(), ErrorCode::kInvalidArgument);
  bad.name = "ok";
  bad.pdq_max_distance = 65;
  EXPECT_FALSE(store->CreateBank(bad, 11).ok());

  BankSpec allow;
  allow.name = "allow-list";
  allow.kind = BankKind::kAllow;
  ASSERT_TRUE(store->CreateBank(allow, 12).ok());
  Result<std::vector<Bank>> banks = store->ListBanks();
  ASSERT_TRUE(banks.ok());
  ASSERT_EQ(banks->size(), 2u);
  EXPECT_EQ((*banks)[0].spec.name, "allow-list");
  EXPECT_EQ((*banks)[0].spec.kind, BankKind::kAllow);
  EXPECT_EQ(store->GetBank("nope").status().code(), ErrorCode::kNotFound);

  ASSERT_TRUE(store->SetBankEnabled("hotline", false, 13).ok());
  EXPECT_FALSE(store->GetBank("hotline")->spec.enabled);
  EXPECT_EQ(store->SetBankEnabled("nope", false, 13).code(), ErrorCode::kNotFound);
}

TEST_P(StoreTest, EntriesAreIdempotentTombstonedAndLogged) {
  auto& store = store_;
  BankSpec spec;
  spec.name = "b";
  Bank bank = *store->CreateBank(spec, 1);
  std::mt19937_64 rng(1);
  const std::string pdq = RandomHex(rng, 64);
  const std::string md5 = RandomHex(rng, 32);
  {
    auto w = store->BeginWrite(bank.id);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ(*(*w)->Add(MakeEntry(SignalType::kPdq, pdq)), AddOutcome::kAdded);
    EXPECT_EQ(*(*w)->Add(MakeEntry(SignalType::kMd5, md5)), AddOutcome::kAdded);
    EXPECT_EQ(*(*w)->Add(MakeEntry(SignalType::kPdq, pdq)), AddOutcome::kUnchanged);
    ASSERT_TRUE((*w)->Commit().ok());
  }
  {
    auto w = store->BeginWrite(bank.id);
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(*(*w)->Add(MakeEntry(SignalType::kPdq, pdq)), AddOutcome::kUnchanged);
    EXPECT_TRUE(*(*w)->Remove(SignalType::kMd5, md5, 200, "withdrawn by source"));
    EXPECT_FALSE(*(*w)->Remove(SignalType::kMd5, md5, 201, "again"));
    EXPECT_FALSE(*(*w)->Remove(SignalType::kSha1, RandomHex(rng, 40), 201, "never added"));
    ASSERT_TRUE((*w)->Commit().ok());
  }
  EXPECT_EQ(store->CountEntries(bank.id)->live, 1);
  EXPECT_EQ(store->CountEntries(bank.id)->removed, 1);

  std::vector<Entry> all;
  ASSERT_TRUE(store
                  ->ForEachEntry(bank.id, {std::nullopt, true},
                                 [&](const Entry& e) {
                                   all.push_back(e);
                                   return Status::Ok();
                                 })
                  .ok());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].value, pdq);
  EXPECT_EQ(all[0].labels.at("category"), "B");
  EXPECT_EQ(all[0].provenance.source, "list.txt");
  EXPECT_EQ(all[0].provenance.source_id, "id-1");
  EXPECT_EQ(all[0].provenance.added_by, "tester");
  EXPECT_EQ(all[0].provenance.added_at, 100);
  EXPECT_TRUE(all[1].removed);
  EXPECT_EQ(all[1].removed_at, 200);
  EXPECT_EQ(all[1].removed_reason, "withdrawn by source");

  int live_pdq = 0;
  ASSERT_TRUE(store
                  ->ForEachEntry(bank.id, {SignalType::kPdq, false},
                                 [&](const Entry&) {
                                   ++live_pdq;
                                   return Status::Ok();
                                 })
                  .ok());
  EXPECT_EQ(live_pdq, 1);

  // The log: bank created, two adds, one removal (the unchanged add is not an event).
  Result<std::vector<Change>> log = store->ChangesSince(0, 100);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 4u);
  EXPECT_EQ((*log)[0].kind, ChangeKind::kBankCreated);
  EXPECT_EQ((*log)[1].kind, ChangeKind::kEntryAdded);
  EXPECT_EQ((*log)[3].kind, ChangeKind::kEntryRemoved);
  EXPECT_EQ((*log)[3].entry_id, all[1].id);
  EXPECT_EQ(*store->LastSequence(), (*log)[3].seq);
  EXPECT_EQ(store->ChangesSince((*log)[1].seq, 1)->size(), 1u);

  // Re-adding a tombstoned entry revives it.
  auto w = store->BeginWrite(bank.id);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*(*w)->Add(MakeEntry(SignalType::kMd5, md5, 300)), AddOutcome::kRevived);
  ASSERT_TRUE((*w)->Commit().ok());
  EXPECT_FALSE(store->GetEntry(all[1].id)->removed);
  EXPECT_EQ(store->GetEntry(12345).status().code(), ErrorCode::kNotFound);
}

TEST_P(StoreTest, RemovesBySourceId) {
  auto& store = store_;
  BankSpec spec;
  spec.name = "b";
  Bank bank = *store->CreateBank(spec, 1);
  auto w = store->BeginWrite(bank.id);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Add(MakeEntry(SignalType::kMd5, std::string(32, '1'))).ok());
  ASSERT_TRUE((*w)->Add(MakeEntry(SignalType::kSha1, std::string(40, '2'))).ok());
  Entry other = MakeEntry(SignalType::kMd5, std::string(32, '3'));
  other.provenance.source_id = "id-2";
  ASSERT_TRUE((*w)->Add(other).ok());
  EXPECT_EQ(*(*w)->RemoveBySourceId("id-1", 50, "deleted by source"), 2);
  EXPECT_EQ(*(*w)->RemoveBySourceId("id-1", 51, "again"), 0);
  ASSERT_TRUE((*w)->Commit().ok());
  EXPECT_EQ(store->CountEntries(bank.id)->live, 1);
  Result<std::vector<Change>> log = store->ChangesSince(0, 100);
  EXPECT_EQ(log->back().kind, ChangeKind::kEntryRemoved);
}

TEST_P(StoreTest, UncommittedWriterChangesNothing) {
  auto& store = store_;
  BankSpec spec;
  spec.name = "b";
  Bank bank = *store->CreateBank(spec, 1);
  const int64_t seq = *store->LastSequence();
  {
    auto w = store->BeginWrite(bank.id);
    ASSERT_TRUE(w.ok());
    EXPECT_FALSE(store->BeginWrite(bank.id).ok());  // one writer at a time
    ASSERT_TRUE((*w)->Add(MakeEntry(SignalType::kSha256, std::string(64, 'a'))).ok());
  }
  EXPECT_EQ(store->CountEntries(bank.id)->live, 0);
  EXPECT_EQ(*store->LastSequence(), seq);
  EXPECT_TRUE(store->BeginWrite(bank.id).ok());
  EXPECT_FALSE(store->BeginWrite(999).ok());
}

TEST(SqliteStoreTest, FileStoreUsesWalAndPersists) {
  test_support::ScratchDir dir;
  const std::string path = dir.File("data/sub/safeguard.db");
  {
    auto store = OpenStore("sqlite:" + path);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    BankSpec spec;
    spec.name = "persisted";
    Bank bank = *(*store)->CreateBank(spec, 1);
    auto w = (*store)->BeginWrite(bank.id);
    ASSERT_TRUE((*w)->Add(MakeEntry(SignalType::kMd5, std::string(32, 'c'))).ok());
    ASSERT_TRUE((*w)->Commit().ok());
  }
  auto store = OpenStore(path);
  ASSERT_TRUE(store.ok());
  Bank bank = *(*store)->GetBank("persisted");
  EXPECT_EQ((*store)->CountEntries(bank.id)->live, 1);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(SqliteStoreTest, MigratesVersionOneDatabase) {
  test_support::ScratchDir dir;
  const std::string path = dir.File("old.db");
  // A database as version 1 left it, with one bank and two entries (one removed).
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const std::string setup = std::string(sqlite_schema::Migrations()[0]) +
                            "PRAGMA user_version=1;"
                            "INSERT INTO banks(id, name, description, kind, enabled, created_at) "
                            "VALUES(1, 'legacy', 'old', 1, 1, 5);"
                            "INSERT INTO entries(bank_id, signal, value, added_at, removed) "
                            "VALUES(1, 1, '" +
                            std::string(32, 'd') + "', 6, 0), (1, 1, '" + std::string(32, 'e') +
                            "', 7, 1);";
  ASSERT_EQ(sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  auto store = OpenStore(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Result<Bank> bank = (*store)->GetBank("legacy");
  ASSERT_TRUE(bank.ok());
  EXPECT_EQ(bank->spec.kind, BankKind::kAllow);
  EXPECT_EQ(bank->spec.pdq_max_distance, 31);
  EXPECT_EQ(bank->spec.pdq_min_quality, 50);
  EXPECT_TRUE(bank->spec.labels.empty());
  EXPECT_EQ((*store)->CountEntries(bank->id)->live, 1);
  EXPECT_EQ((*store)->CountEntries(bank->id)->removed, 1);
  // The log starts with the bank and its live entry.
  Result<std::vector<Change>> log = (*store)->ChangesSince(0, 10);
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].kind, ChangeKind::kBankCreated);
  EXPECT_EQ((*log)[1].kind, ChangeKind::kEntryAdded);
  // And the migrated store takes new data with provenance.
  auto w = (*store)->BeginWrite(bank->id);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Add(MakeEntry(SignalType::kSha1, std::string(40, 'f'))).ok());
  ASSERT_TRUE((*w)->Commit().ok());
  EXPECT_EQ((*store)->CountEntries(bank->id)->live, 2);
}

TEST(SqliteStoreTest, RefusesNewerSchemaAndUnknownUrls) {
  test_support::ScratchDir dir;
  const std::string path = dir.File("new.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(OpenStore(path).status().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(OpenStore("mysql://x").status().code(), ErrorCode::kInvalidArgument);
  // libpq keyword strings go to PostgreSQL, never become SQLite file names.
  const std::string keywords = "host=127.0.0.1 port=1 dbname=x connect_timeout=2";
  EXPECT_EQ(OpenStore(keywords).status().code(), ErrorCode::kIoError);
  EXPECT_FALSE(std::filesystem::exists(keywords));
}

}  // namespace
}  // namespace safeguard
