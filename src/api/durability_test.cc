// A 2xx answer means the submission, its decision and its audit events are
// committed: kill `safeguard serve` with SIGKILL while clients submit, and
// check that everything acknowledged is there and nothing is half-written.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include "engine_test_util.h"
#include "safeguard/store/records.h"

namespace safeguard {
namespace {

using nlohmann::json;
using test_support::MakeImage;
using test_support::PdqOf;
using test_support::ScratchDir;

// Runs the safeguard binary to completion; returns its stdout.
std::string RunTool(const std::string& args) {
  std::string command = SAFEGUARD_BINARY;
  command.append(" ").append(args);
  FILE* p = popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << command;
  return out;
}

// `safeguard serve` as a child process on a free port.
class Server {
 public:
  explicit Server(const std::string& store) {
    int err[2];
    if (pipe(err) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(err[1], 2);
      close(err[0]);
      execl(SAFEGUARD_BINARY, SAFEGUARD_BINARY, "--store", store.c_str(), "serve", "--listen",
            "127.0.0.1:0", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(err[1]);
    // The first line on stderr says where it listens.
    FILE* in = fdopen(err[0], "r");
    char line[4096];
    while (fgets(line, sizeof line, in) != nullptr) {
      json j = json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.value("event", "") == "listening") {
        port_ = j["port"];
        break;
      }
    }
    stderr_ = in;
  }
  ~Server() {
    if (pid_ > 0) Kill(SIGKILL);
    if (stderr_ != nullptr) fclose(stderr_);
  }
  int port() const { return port_; }
  int Kill(int sig) {
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  FILE* stderr_ = nullptr;
};

TEST(Durability, AcknowledgedSubmissionsSurviveSigkill) {
  ASSERT_TRUE(InitializeImageDecoding().ok());
  ScratchDir dir;
  const std::string store = "sqlite:" + dir.File("safeguard.db");
  const json key =
      json::parse(RunTool("--store " + store + " keys create loader --scopes submit,admin"));
  const std::string token = key["token"];
  const httplib::Headers auth = {{"Authorization", "Bearer " + token}};

  // Some of the load matches a bank, so review items with media are written too.
  std::vector<std::string> images;
  for (uint32_t i = 0; i < 16; ++i) images.push_back(MakeImage(100 + i, 160, 120));
  {
    Server first(store);
    ASSERT_GT(first.port(), 0);
    httplib::Client c("127.0.0.1", first.port());
    ASSERT_EQ(c.Post("/v1/banks", auth, R"({"name": "planted"})", "application/json")->status, 201);
    ASSERT_EQ(
        c.Post("/v1/banks/planted/import?signal=pdq", auth,
               PdqOf(images[0]).first.append("\n").append(PdqOf(images[1]).first).append("\n"),
               "text/plain")
            ->status,
        200);
    first.Kill(SIGTERM);
  }

  Server server(store);
  ASSERT_GT(server.port(), 0);
  std::mutex mu;
  std::set<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      httplib::Client c("127.0.0.1", server.port());
      c.set_read_timeout(5, 0);
      for (int n = 0; !stop; ++n) {
        std::string id = "t";
        id.append(std::to_string(t)).append("-").append(std::to_string(n));
        httplib::Result r = c.Post(std::string("/v1/content?content_id=").append(id), auth,
                                   images[static_cast<size_t>(n + t) % images.size()], "image/png");
        if (r && r->status == 200) {
          std::lock_guard lock(mu);
          acknowledged.insert(id);
        } else if (!r) {
          return;  // the server is gone
        }
      }
    });
  }
  // Kill it mid-stream once it has acknowledged a fair number.
  for (int i = 0; i < 300; ++i) {
    {
      std::lock_guard lock(mu);
      if (acknowledged.size() >= 60) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  server.Kill(SIGKILL);
  stop = true;
  for (std::thread& c : clients) c.join();
  ASSERT_GE(acknowledged.size(), 20u) << "too little load before the kill to mean anything";

  Result<std::unique_ptr<RecordStore>> records = OpenRecordStore(store);
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  for (const std::string& id : acknowledged) {
    Result<std::vector<SubmissionRecord>> found = (*records)->FindSubmissions(id);
    ASSERT_TRUE(found.ok());
    ASSERT_EQ(found->size(), 1u) << id << " was acknowledged but is not stored";
    const json decision = json::parse((*found)[0].in.decision_json, nullptr, false);
    EXPECT_FALSE(decision.is_discarded());
    EXPECT_TRUE(decision.contains("action"));
  }
  // Nothing half-written: every stored submission has its decision event,
  // and the audit chain is intact.
  Result<int64_t> events = VerifyAuditChain(**records);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  int64_t decisions = 0;
  ASSERT_TRUE((*records)
                  ->ForEachAudit(0,
                                 [&](const AuditEvent& e) {
                                   decisions += e.kind == "decision";
                                   return Status::Ok();
                                 })
                  .ok());
  Result<int64_t> stored = (*records)->CountSubmissions();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(decisions, *stored);
  EXPECT_GE(*stored, static_cast<int64_t>(acknowledged.size()));
  records->reset();

  // And the service starts again on the same store and keeps working.
  Server again(store);
  ASSERT_GT(again.port(), 0);
  httplib::Client c("127.0.0.1", again.port());
  EXPECT_EQ(c.Get("/readyz")->status, 200);
  httplib::Result r = c.Post("/v1/content?content_id=after", auth, images[0], "image/png");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["decision"]["action"], "block");
  const int status = again.Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace safeguard
