#include "serve_command.h"

#include <pthread.h>

#include <chrono>
#include <csignal>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "safeguard/api/server.h"
#include "safeguard/engine/config.h"
#include "safeguard/engine/engine.h"
#include "safeguard/media/image.h"
#include "safeguard/store/records.h"

namespace safeguard::cli {
namespace {

using nlohmann::json;

}  // namespace

ServeCommand::ServeCommand(CLI::App* app, const std::string* store_url,
                           const CLI::Option* store_option)
    : store_url_(store_url), store_option_(store_option) {
  serve_ = app->add_subcommand(
      "serve", "Run the matching service (HTTP API under /v1; see docs/service.md).");
  serve_->add_option("--config", config_file_, "A file of `key = value` lines");
  serve_->add_option("--set", sets_, "KEY=VALUE, after the config file (repeatable)");
  serve_->add_option("--listen", listen_, "HOST:PORT to listen on (default 127.0.0.1:8080)");
  serve_->add_flag("--print-config", print_config_,
                   "Print every setting with its value, range and meaning, and exit");

  keys_ = app->add_subcommand("keys", "Create, list and revoke API keys.");
  keys_->require_subcommand(1);
  keys_create_ = keys_->add_subcommand("create", "Create a key and print its token (once).");
  keys_create_->add_option("name", key_name_, "A name for the key (who uses it)")->required();
  keys_create_->add_option("--scopes", scopes_, "Comma-separated: submit, review, admin")
      ->required();
  keys_list_ = keys_->add_subcommand("list", "List keys (never their tokens).");
  keys_revoke_ = keys_->add_subcommand("revoke", "Revoke a key by id.");
  keys_revoke_->add_option("id", key_id_, "The key's id (keys list)")->required();

  audit_ = app->add_subcommand("audit", "Check the audit trail.");
  audit_->require_subcommand(1);
  audit_verify_ =
      audit_->add_subcommand("verify", "Recompute the hash chain of every audit event.");
}

bool ServeCommand::parsed() const {
  return serve_->parsed() || keys_->parsed() || audit_->parsed();
}

int ServeCommand::Run(std::ostream& out, std::ostream& err) {
  if (serve_->parsed()) return RunServe(out, err);
  if (keys_->parsed()) return RunKeys(out, err);
  return RunAudit(out, err);
}

int ServeCommand::RunServe(std::ostream& out, std::ostream& err) {
  ServiceConfig config;
  auto fail = [&](const Status& s) {
    err << "safeguard serve: " << s.ToString() << "\n";
    return 2;
  };
  if (!config_file_.empty()) {
    if (Status s = config.LoadFile(config_file_); !s.ok()) return fail(s);
  }
  // --store on the command line wins over the config file's `store`.
  if (store_option_->count() > 0) config.store_url = *store_url_;
  for (const std::string& kv : sets_) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos) {
      return fail(Status::InvalidArgument("--set " + kv + ": expected KEY=VALUE"));
    }
    if (Status s = config.Set(kv.substr(0, eq), kv.substr(eq + 1)); !s.ok()) return fail(s);
  }
  if (!listen_.empty()) {
    const size_t colon = listen_.rfind(':');
    if (colon == std::string::npos) {
      return fail(Status::InvalidArgument("--listen " + listen_ + ": expected HOST:PORT"));
    }
    if (Status s = config.Set("listen.host", listen_.substr(0, colon)); !s.ok()) return fail(s);
    if (Status s = config.Set("listen.port", listen_.substr(colon + 1)); !s.ok()) return fail(s);
  }
  if (print_config_) {
    out << config.Dump();
    return 0;
  }
  if (Status s = InitializeImageDecoding(); !s.ok()) return fail(s);

  // SIGINT/SIGTERM are taken by a thread of their own (blocked everywhere
  // else), which stops the server cleanly: requests in flight finish.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Result<std::unique_ptr<Engine>> engine = Engine::Open(config);
  if (!engine.ok()) return fail(engine.status());
  Result<std::unique_ptr<ApiServer>> server = ApiServer::Create(**engine);
  if (!server.ok()) return fail(server.status());
  if (Status s = (*server)->Bind(config.listen_host, config.listen_port); !s.ok()) return fail(s);
  ApiServer* raw = server->get();
  std::thread waiter([raw, signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    raw->Stop();
  });
  EngineStats stats = (*engine)->Stats();
  err << json{{"event", "listening"},
              {"address", config.listen_host},
              {"port", raw->port()},
              {"store", config.store_url},
              {"index_entries", stats.index_entries}}
             .dump()
      << std::endl;
  Status ran = raw->Run();
  // Wake the waiter if the server stopped for another reason.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  if (!ran.ok()) return fail(ran);
  err << json{{"event", "stopped"}}.dump() << std::endl;
  return 0;
}

int ServeCommand::RunKeys(std::ostream& out, std::ostream& err) {
  auto fail = [&](const Status& s) {
    err << "safeguard keys: " << s.ToString() << "\n";
    return 2;
  };
  Result<std::unique_ptr<RecordStore>> records = OpenRecordStore(*store_url_);
  if (!records.ok()) return fail(records.status());
  if (keys_create_->parsed()) {
    Result<uint32_t> scopes = ParseScopes(scopes_);
    if (!scopes.ok()) return fail(scopes.status());
    Result<std::string> token = MintApiKey(**records, key_name_, *scopes, "cli");
    if (!token.ok()) return fail(token.status());
    out << json{{"name", key_name_}, {"scopes", ScopesToString(*scopes)}, {"token", *token}}.dump()
        << "\n";
    return 0;
  }
  if (keys_list_->parsed()) {
    Result<std::vector<ApiKeyRecord>> keys = (*records)->ListApiKeys();
    if (!keys.ok()) return fail(keys.status());
    for (const ApiKeyRecord& k : *keys) {
      out << json{{"id", k.id},
                  {"name", k.name},
                  {"scopes", ScopesToString(k.scopes)},
                  {"created_ms", k.created_ms},
                  {"revoked", k.revoked}}
                 .dump()
          << "\n";
    }
    return 0;
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  if (Status s = (*records)->RevokeApiKey(
          key_id_, {AuditInput{"cli", "key.revoke", "key:" + std::to_string(key_id_), "{}", now}});
      !s.ok()) {
    return fail(s);
  }
  out << json{{"id", key_id_}, {"revoked", true}}.dump() << "\n";
  return 0;
}

int ServeCommand::RunAudit(std::ostream& out, std::ostream& err) {
  Result<std::unique_ptr<RecordStore>> records = OpenRecordStore(*store_url_);
  if (!records.ok()) {
    err << "safeguard audit: " << records.status().ToString() << "\n";
    return 2;
  }
  Result<int64_t> n = VerifyAuditChain(**records);
  if (!n.ok()) {
    if (n.status().code() == ErrorCode::kCorrupt) {
      out << json{{"ok", false}, {"error", n.status().message()}}.dump() << "\n";
      return 1;
    }
    err << "safeguard audit: " << n.status().ToString() << "\n";
    return 2;
  }
  out << json{{"ok", true}, {"events", *n}}.dump() << "\n";
  return 0;
}

}  // namespace safeguard::cli
