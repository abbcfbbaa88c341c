#include "safeguard/store/store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <span>

#include "pg_schema.h"
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
  for (SignalType t : {SignalType::kPdq, SignalType::kMd5, SignalType::kSha1, SignalType::kSha256,
                       SignalType::kVpdq, SignalType::kTmk}) {
    EXPECT_EQ(*ParseSignalType(SignalTypeName(t)), t);
    EXPECT_EQ(SignalHasPayload(t), t == SignalType::kVpdq || t == SignalType::kTmk);
  }
  EXPECT_FALSE(ParseSignalType("photodna").ok());
  // The SHA-256 of "abc" (FIPS 180-2's example).
  EXPECT_EQ(PayloadKey("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
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

// Video signatures: the value is the SHA-256 of the payload, which the store
// keeps beside the entry and returns when asked.
TEST_P(StoreTest, PayloadEntriesKeepTheirSignatures) {
  auto& store = store_;
  BankSpec spec;
  spec.name = "videos";
  Bank bank = *store->CreateBank(spec, 1);
  std::string tmk(263'344, '\0');
  for (size_t i = 0; i < tmk.size(); ++i) tmk[i] = static_cast<char>(i * 7 + (i >> 9));
  const std::string vpdq = "0,100," + std::string(64, 'e') + ",0.000\n";
  auto with = [](SignalType signal, const std::string& payload) {
    Entry e = MakeEntry(signal, PayloadKey(payload));
    e.payload = payload;
    return e;
  };
  int64_t tmk_id = 0;
  {
    auto w = store->BeginWrite(bank.id);
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(*(*w)->Add(with(SignalType::kTmk, tmk)), AddOutcome::kAdded);
    EXPECT_EQ(*(*w)->Add(with(SignalType::kVpdq, vpdq)), AddOutcome::kAdded);
    EXPECT_EQ(*(*w)->Add(with(SignalType::kVpdq, vpdq)), AddOutcome::kUnchanged);
    // Refusals: no payload, a value that is not the payload's key, a payload
    // on a hash signal, a batch, a payload over the limit.
    EXPECT_EQ((*w)->Add(MakeEntry(SignalType::kTmk, PayloadKey(tmk))).status().code(),
              ErrorCode::kInvalidArgument);
    Entry wrong = with(SignalType::kVpdq, vpdq + "1,100," + std::string(64, 'a') + ",1.000\n");
    wrong.value = PayloadKey(vpdq);
    EXPECT_EQ((*w)->Add(wrong).status().code(), ErrorCode::kInvalidArgument);
    Entry md5 = MakeEntry(SignalType::kMd5, std::string(32, 'a'));
    md5.payload = "x";
    EXPECT_EQ((*w)->Add(md5).status().code(), ErrorCode::kInvalidArgument);
    const std::string key = PayloadKey("z");
    std::vector<std::string_view> values = {key};
    std::vector<AddOutcome> outcomes(1);
    EXPECT_EQ((*w)->AddBatch(with(SignalType::kVpdq, "z"), values, outcomes).code(),
              ErrorCode::kInvalidArgument);
    EXPECT_EQ(
        (*w)->Add(with(SignalType::kTmk, std::string(kMaxPayloadBytes + 1, 'x'))).status().code(),
        ErrorCode::kLimitExceeded);
    ASSERT_TRUE((*w)->Commit().ok());
  }
  // Only what was accepted is there, payloads with it.
  std::vector<Entry> scanned;
  ASSERT_TRUE(store
                  ->ForEachEntry(bank.id, {},
                                 [&](const Entry& e) {
                                   scanned.push_back(e);
                                   return Status::Ok();
                                 })
                  .ok());
  ASSERT_EQ(scanned.size(), 2u);
  EXPECT_TRUE(scanned[0].payload.empty());  // not asked for
  tmk_id = scanned[0].id;
  Store::EntryFilter filter;
  filter.payloads = true;
  filter.signal = SignalType::kTmk;
  scanned.clear();
  ASSERT_TRUE(store
                  ->ForEachEntry(bank.id, filter,
                                 [&](const Entry& e) {
                                   scanned.push_back(e);
                                   return Status::Ok();
                                 })
                  .ok());
  ASSERT_EQ(scanned.size(), 1u);
  EXPECT_EQ(scanned[0].payload, tmk);
  EXPECT_EQ(scanned[0].value, PayloadKey(tmk));
  EXPECT_EQ(store->GetEntry(tmk_id)->payload, tmk);
  // A removed signature comes back with its payload.
  {
    auto w = store->BeginWrite(bank.id);
    ASSERT_TRUE(w.ok());
    EXPECT_TRUE(*(*w)->Remove(SignalType::kTmk, PayloadKey(tmk), 5, "withdrawn"));
    EXPECT_EQ(*(*w)->Add(with(SignalType::kTmk, tmk)), AddOutcome::kRevived);
    ASSERT_TRUE((*w)->Commit().ok());
  }
  Result<Entry> revived = store->GetEntry(tmk_id);
  ASSERT_TRUE(revived.ok());
  EXPECT_FALSE(revived->removed);
  EXPECT_EQ(revived->payload, tmk);
  EXPECT_EQ(store->CountEntries(bank.id)->live, 2);
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

// AddBatch against the oracle, Add one value after another, on the same
// history: new values, values repeated in the batch, live and tombstoned ones.
TEST_P(StoreTest, AddBatchEqualsAddOneByOne) {
  auto& store = store_;
  std::mt19937_64 rng(11);
  std::vector<std::string> old_values, values;
  for (int i = 0; i < 20; ++i) old_values.push_back(RandomHex(rng, 64));
  for (int i = 0; i < 300; ++i) {
    const uint64_t pick = rng() % 4;
    values.push_back(pick == 0                      ? old_values[rng() % old_values.size()]
                     : pick == 1 && !values.empty() ? values[rng() % values.size()]
                                                    : RandomHex(rng, 64));
  }
  struct Outcome {
    std::vector<AddOutcome> outcomes;
    std::vector<std::string> live;  // values of live entries, in id order
    std::vector<int64_t> ids;
  };
  auto run = [&](const std::string& name, bool batch) {
    BankSpec spec;
    spec.name = name;
    Bank bank = *store->CreateBank(spec, 1);
    Entry common = MakeEntry(SignalType::kPdq, "", 50);
    {
      auto w = store->BeginWrite(bank.id);
      for (const std::string& v : old_values) {
        common.value = v;
        EXPECT_TRUE((*w)->Add(common).ok());
      }
      for (size_t i = 0; i < old_values.size(); i += 2) {
        EXPECT_TRUE(*(*w)->Remove(SignalType::kPdq, old_values[i], 60, "gone"));
      }
      EXPECT_TRUE((*w)->Commit().ok());
    }
    Outcome out;
    auto w = store->BeginWrite(bank.id);
    EXPECT_TRUE(w.ok());
    if (batch) {
      std::vector<std::string_view> views(values.begin(), values.end());
      out.outcomes.resize(values.size());
      // Two batches, so that the second meets the first's entries.
      const size_t half = values.size() / 2;
      Status s =
          (*w)->AddBatch(common, std::span(views).first(half), std::span(out.outcomes).first(half));
      EXPECT_TRUE(s.ok()) << s.ToString();
      s = (*w)->AddBatch(common, std::span(views).subspan(half),
                         std::span(out.outcomes).subspan(half));
      EXPECT_TRUE(s.ok()) << s.ToString();
    } else {
      for (const std::string& v : values) {
        common.value = v;
        out.outcomes.push_back((*w)->Add(common).value());
      }
    }
    EXPECT_TRUE((*w)->Commit().ok());
    EXPECT_TRUE(store
                    ->ForEachEntry(bank.id, {},
                                   [&](const Entry& e) {
                                     out.live.push_back(e.value);
                                     out.ids.push_back(e.id);
                                     EXPECT_EQ(e.provenance.source, "list.txt");
                                     EXPECT_EQ(e.labels.at("category"), "B");
                                     return Status::Ok();
                                   })
                    .ok());
    return out;
  };
  const int64_t before = *store->LastSequence();
  Outcome one = run("one-by-one", false);
  const int64_t middle = *store->LastSequence();
  Outcome batch = run("batch", true);
  EXPECT_EQ(batch.outcomes, one.outcomes);
  EXPECT_EQ(batch.live, one.live);  // so new entries' ids follow the input
  EXPECT_EQ(std::count(one.outcomes.begin(), one.outcomes.end(), AddOutcome::kRevived), 10);

  // The log: per entry for one-by-one, and one range per batch (revivals
  // still one event each) for the batch; both name the same entries.
  auto logged = [&](int64_t from, int64_t to) {
    std::vector<int64_t> ids;
    int ranges = 0;
    Result<std::vector<Change>> log = store->ChangesSince(from, 100000);
    EXPECT_TRUE(log.ok());
    for (const Change& c : log.value()) {
      if (c.seq > to) break;
      if (c.kind == ChangeKind::kEntriesAdded) {
        ++ranges;
        EXPECT_LE(c.entry_id, c.last_entry_id);
        EXPECT_EQ(c.time, 50);
        for (int64_t id : batch.ids) {
          if (id >= c.entry_id && id <= c.last_entry_id) ids.push_back(id);
        }
      } else if (c.kind == ChangeKind::kEntryAdded) {
        ids.push_back(c.entry_id);
      }
    }
    std::sort(ids.begin(), ids.end());
    return std::pair{ids.size(), ranges};
  };
  const auto [one_logged, one_ranges] = logged(before, middle);
  const auto [batch_logged, batch_ranges] = logged(middle, *store->LastSequence());
  EXPECT_EQ(one_ranges, 0);
  EXPECT_EQ(batch_ranges, 2);
  EXPECT_EQ(batch_logged, one_logged);

  // ForEachEntry narrowed to an id range.
  std::vector<int64_t> ranged;
  Store::EntryFilter range;
  range.first_id = batch.ids[1];
  range.last_id = batch.ids[3];
  ASSERT_TRUE(store
                  ->ForEachEntry(store->GetBank("batch")->id, range,
                                 [&](const Entry& e) {
                                   ranged.push_back(e.id);
                                   return Status::Ok();
                                 })
                  .ok());
  EXPECT_EQ(ranged, std::vector<int64_t>(batch.ids.begin() + 1, batch.ids.begin() + 4));
}

TEST_P(StoreTest, RefusesValuesThatAreNotCanonical) {
  auto& store = store_;
  BankSpec spec;
  spec.name = "b";
  Bank bank = *store->CreateBank(spec, 1);
  const int64_t seq = *store->LastSequence();
  auto w = store->BeginWrite(bank.id);
  ASSERT_TRUE(w.ok());
  const std::string upper(64, 'A');
  const std::string good(64, 'a');
  EXPECT_EQ((*w)->Add(MakeEntry(SignalType::kPdq, upper)).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ((*w)->Add(MakeEntry(SignalType::kMd5, good)).status().code(),
            ErrorCode::kInvalidArgument);  // 64 digits are not an MD5
  std::vector<std::string_view> values = {good, upper};
  std::vector<AddOutcome> outcomes(2);
  Status s = (*w)->AddBatch(MakeEntry(SignalType::kPdq, ""), values, outcomes);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("value 2"), std::string::npos) << s.message();
  // Refused values leave the writer usable and write nothing.
  ASSERT_TRUE((*w)->Commit().ok());
  EXPECT_EQ(store->CountEntries(bank.id)->live, 0);
  EXPECT_EQ(*store->LastSequence(), seq);
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

// Version 3 kept values as hex text under a UNIQUE index; version 4 keeps
// bytes, with the key in entry_keys.
TEST(SqliteStoreTest, MigratesVersionThreeDatabase) {
  test_support::ScratchDir dir;
  const std::string path = dir.File("v3.db");
  const std::string live(64, 'd'), removed = "0123456789abcdef" + std::string(48, '7');
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  std::string setup;
  for (int v = 0; v < 3; ++v) setup += sqlite_schema::Migrations()[v];
  setup +=
      "PRAGMA user_version=3;"
      "INSERT INTO banks(id, name, kind, enabled, created_at) VALUES(1, 'legacy', 0, 1, 5);"
      "INSERT INTO entries(id, bank_id, signal, value, added_at, removed, source_id) VALUES"
      "(1, 1, 0, '" +
      live + "', 6, 0, 'x'), (2, 1, 0, '" + removed + "', 7, 1, ''), (3, 1, 1, '" +
      std::string(32, 'c') +
      "', 8, 0, '');"
      "INSERT INTO changes(kind, bank_id, entry_id, time) VALUES(0, 1, 0, 5), (2, 1, 1, 6);";
  ASSERT_EQ(sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  auto store = OpenStore(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Result<Entry> e = (*store)->GetEntry(2);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value, removed);
  EXPECT_TRUE(e->removed);
  EXPECT_EQ((*store)->GetEntry(3)->value, std::string(32, 'c'));
  EXPECT_EQ((*store)->GetEntry(3)->signal, SignalType::kMd5);
  Result<std::vector<Change>> log = (*store)->ChangesSince(0, 10);
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[1].last_entry_id, 0);

  // The keys came along: the live value is unchanged, the tombstone revives
  // under its old id, and a new value takes the next id.
  auto w = (*store)->BeginWrite(1);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*(*w)->Add(MakeEntry(SignalType::kPdq, live)), AddOutcome::kUnchanged);
  std::vector<std::string_view> values = {removed, live};
  std::vector<AddOutcome> outcomes(2);
  ASSERT_TRUE((*w)->AddBatch(MakeEntry(SignalType::kPdq, ""), values, outcomes).ok());
  EXPECT_EQ(outcomes, (std::vector{AddOutcome::kRevived, AddOutcome::kUnchanged}));
  EXPECT_EQ(*(*w)->Add(MakeEntry(SignalType::kPdq, std::string(64, 'e'))), AddOutcome::kAdded);
  EXPECT_EQ(*(*w)->RemoveBySourceId("x", 9, "by id"), 1);
  ASSERT_TRUE((*w)->Commit().ok());
  EXPECT_FALSE((*store)->GetEntry(2)->removed);
  EXPECT_TRUE((*store)->GetEntry(1)->removed);
  EXPECT_EQ((*store)->GetEntry(4)->value, std::string(64, 'e'));
  EXPECT_EQ((*store)->CountEntries(1)->live, 3);
}

// A value that is not hex cannot become bytes: the migration is refused and
// the database keeps its version.
TEST(SqliteStoreTest, RefusesToMigrateValuesThatAreNotHex) {
  test_support::ScratchDir dir;
  const std::string path = dir.File("bad.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  std::string setup;
  for (int v = 0; v < 3; ++v) setup += sqlite_schema::Migrations()[v];
  setup +=
      "PRAGMA user_version=3;"
      "INSERT INTO banks(id, name, kind, enabled, created_at) VALUES(1, 'legacy', 0, 1, 5);"
      "INSERT INTO entries(bank_id, signal, value, added_at) VALUES(1, 1, 'not hex', 6);";
  ASSERT_EQ(sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(OpenStore(path).status().code(), ErrorCode::kCorrupt);
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 3);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

// The PostgreSQL migration from the version before bytea values (2), on a
// database built with the migrations of that version.
// Ends every other session of the database `url` names, as a server restart
// or a network cut would.
void TerminateOtherSessions(const std::string& url) {
  PGconn* conn = PQconnectdb(url.c_str());
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  PGresult* r = PQexec(conn,
                       "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(conn);
  EXPECT_GE(PQntuples(r), 1);
  PQclear(r);
  PQfinish(conn);
}

// A lost connection: the statement that meets the loss fails, the next
// operation reconnects; a transaction cut in the middle commits nothing and
// none of its statements runs on the new connection.
TEST(PostgresStoreTest, ReconnectsBetweenTransactionsOnly) {
  test_support::PgTestServer& pg = test_support::PgTestServer::Get();
  if (!pg.ok()) GTEST_SKIP() << "PostgreSQL test server could not start: " << pg.reason();
  const std::string url = pg.NewDatabase();
  Result<std::unique_ptr<Store>> store = OpenStore(url);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  BankSpec spec;
  spec.name = "b";
  const int64_t bank = (*store)->CreateBank(spec, 1)->id;

  TerminateOtherSessions(url);
  EXPECT_FALSE((*store)->ListBanks().ok());  // met the loss
  Result<std::vector<Bank>> banks = (*store)->ListBanks();
  ASSERT_TRUE(banks.ok()) << banks.status().ToString();
  EXPECT_EQ(banks->size(), 1u);

  std::mt19937_64 rng(5);
  const std::string lost = RandomHex(rng, 32), kept = RandomHex(rng, 32);
  {
    auto w = (*store)->BeginWrite(bank);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Add(MakeEntry(SignalType::kMd5, lost)).ok());
    TerminateOtherSessions(url);
    EXPECT_FALSE((*w)->Add(MakeEntry(SignalType::kMd5, kept)).ok());
    EXPECT_FALSE((*w)->Commit().ok());
  }
  {
    auto w = (*store)->BeginWrite(bank);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->Add(MakeEntry(SignalType::kMd5, kept)).ok());
    ASSERT_TRUE((*w)->Commit().ok());
  }
  std::vector<std::string> values;
  ASSERT_TRUE((*store)
                  ->ForEachEntry(bank, {},
                                 [&](const Entry& e) {
                                   values.push_back(e.value);
                                   return Status::Ok();
                                 })
                  .ok());
  EXPECT_EQ(values, std::vector<std::string>{kept});
}

TEST(PostgresStoreTest, MigratesVersionTwoDatabase) {
  test_support::PgTestServer& pg = test_support::PgTestServer::Get();
  if (!pg.ok()) GTEST_SKIP() << "PostgreSQL test server could not start: " << pg.reason();
  const std::string url = pg.NewDatabase();
  ASSERT_FALSE(url.empty()) << pg.reason();
  const std::string live(32, 'd'), removed(32, 'e'), fresh(32, 'f');
  {
    PGconn* conn = PQconnectdb(url.c_str());
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
    std::string setup = "CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY);";
    for (int v = 0; v < 2; ++v) setup += pg_schema::kPgMigrations[v];
    setup +=
        "INSERT INTO schema_migrations VALUES (1), (2);"
        "INSERT INTO banks(name, kind, created_at) VALUES('legacy', 1, 5);"
        "INSERT INTO entries(bank_id, signal, value, added_at, removed) VALUES"
        "(1, 1, '" +
        live + "', 6, 0), (1, 1, '" + removed +
        "', 7, 1);"
        "INSERT INTO changes(kind, bank_id, entry_id, time) VALUES(0, 1, 0, 5), (2, 1, 1, 6);";
    PGresult* r = PQexec(conn, setup.c_str());
    EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQerrorMessage(conn);
    PQclear(r);
    PQfinish(conn);
  }
  auto store = OpenStore(url);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->SchemaVersion(), 4);
  Result<Bank> bank = (*store)->GetBank("legacy");
  ASSERT_TRUE(bank.ok());
  EXPECT_EQ(bank->spec.kind, BankKind::kAllow);
  EXPECT_EQ((*store)->GetEntry(1)->value, live);
  EXPECT_EQ((*store)->GetEntry(2)->value, removed);
  Result<std::vector<Change>> log = (*store)->ChangesSince(0, 10);
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[1].entry_id, 1);

  auto w = (*store)->BeginWrite(bank->id);
  ASSERT_TRUE(w.ok());
  std::vector<std::string_view> values = {live, removed, fresh};
  std::vector<AddOutcome> outcomes(3);
  Status added = (*w)->AddBatch(MakeEntry(SignalType::kMd5, ""), values, outcomes);
  ASSERT_TRUE(added.ok()) << added.ToString();
  EXPECT_EQ(outcomes,
            (std::vector{AddOutcome::kUnchanged, AddOutcome::kRevived, AddOutcome::kAdded}));
  ASSERT_TRUE((*w)->Commit().ok());
  EXPECT_EQ((*store)->CountEntries(bank->id)->live, 3);
}

TEST(SqliteStoreTest, OpenExistingStoreCreatesNothing) {
  test_support::ScratchDir dir;
  const std::string path = dir.File("absent/safeguard.db");
  Result<std::unique_ptr<Store>> missing = OpenExistingStore("sqlite:" + path);
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "no store at " + path);
  EXPECT_FALSE(std::filesystem::exists(dir.File("absent")));
  ASSERT_TRUE(OpenStore(path).ok());
  EXPECT_TRUE(OpenExistingStore(path).ok());
  EXPECT_TRUE(OpenExistingStore("sqlite::memory:").ok());
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
