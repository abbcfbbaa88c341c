#include "safeguard/api/server.h"

#include <httplib.h>

#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "metrics.h"

namespace safeguard {
namespace {

using nlohmann::json;

int HttpStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return 200;
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kFailedPrecondition:
      return 409;
    case ErrorCode::kLimitExceeded:
      return 413;
    case ErrorCode::kCorrupt:
    case ErrorCode::kUnsupported:
      return 422;
    case ErrorCode::kIoError:
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void SendError(httplib::Response& res, int status, std::string_view code,
               std::string_view message) {
  SendJson(res, status, json{{"error", {{"code", code}, {"message", message}}}});
}

void SendStatus(httplib::Response& res, const Status& s) {
  int status = HttpStatus(s.code());
  // Server-side failures are logged, not explained: the caller cannot fix
  // them and the message may name internals.
  if (status == 500) {
    std::fprintf(stderr, "safeguard serve: %s\n", s.ToString().c_str());
    SendError(res, 500, "internal", "the server could not complete the request");
    return;
  }
  SendError(res, status, ErrorCodeName(s.code()), s.message());
}

template <typename T>
void Send(httplib::Response& res, const Result<T>& r, int ok_status = 200) {
  if (!r.ok()) {
    SendStatus(res, r.status());
    return;
  }
  SendJson(res, ok_status, *r);
}

// Media types accepted as raw content.
bool IsRawContentType(std::string_view type) {
  return type.empty() || type.starts_with("application/octet-stream") ||
         type.starts_with("image/") || type.starts_with("video/");
}

// The body's media type without parameters ("application/json; charset=utf-8"
// -> "application/json"), lowercase.
std::string MediaType(const httplib::Request& req) {
  std::string t = req.get_header_value("Content-Type");
  const size_t semi = t.find(';');
  if (semi != std::string::npos) t.resize(semi);
  while (!t.empty() && t.back() == ' ') t.pop_back();
  for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return t;
}

// A token bucket per API key.
class RateLimiter {
 public:
  RateLimiter(double rate, double burst) : rate_(rate), burst_(burst) {}
  // True when the key may make a request now; otherwise the seconds to wait.
  bool Allow(int64_t key, double* retry_after) {
    if (rate_ <= 0) return true;
    const double now =
        std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    std::lock_guard lock(mu_);
    Bucket& b = buckets_[key];
    if (b.last == 0) {
      b.tokens = burst_;
      b.last = now;
    }
    b.tokens = std::min(burst_, b.tokens + (now - b.last) * rate_);
    b.last = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return true;
    }
    *retry_after = (1 - b.tokens) / rate_;
    return false;
  }

 private:
  struct Bucket {
    double tokens = 0;
    double last = 0;
  };
  double rate_;
  double burst_;
  std::mutex mu_;
  std::unordered_map<int64_t, Bucket> buckets_;
};

}  // namespace

struct ApiServer::Impl {
  Engine& engine;
  httplib::Server http;
  RateLimiter limiter;
  Metrics metrics;
  std::vector<std::string> routes;
  int port = 0;
  // Stop() may come before Run() has started listening (httplib's stop()
  // does nothing then, and the listen loop would never end): these let Stop
  // either keep Run from listening or wait until it listens.
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> run_started{false};
  std::atomic<bool> run_finished{false};

  explicit Impl(Engine& e) : engine(e), limiter(e.config().rate_per_key, e.config().rate_burst) {}

  // Checks the key, its scope and its rate. Sends the refusal itself and
  // returns nullopt when the request may not go on.
  std::optional<Principal> Admit(const httplib::Request& req, httplib::Response& res, Scope scope) {
    std::string token;
    const std::string& auth = req.get_header_value("Authorization");
    if (auth.starts_with("Bearer ")) {
      token = auth.substr(7);
    } else {
      token = req.get_header_value("X-Api-Key");
    }
    Result<Principal> who = engine.Authenticate(token);
    if (!who.ok()) {
      if (who.status().code() != ErrorCode::kPermissionDenied) {
        SendStatus(res, who.status());
        return std::nullopt;
      }
      res.set_header("WWW-Authenticate", "Bearer");
      SendError(res, 401, "unauthenticated", "missing or invalid API key");
      return std::nullopt;
    }
    double retry = 0;
    if (!limiter.Allow(who->key_id, &retry)) {
      res.set_header("Retry-After", std::to_string(static_cast<int>(std::ceil(retry))));
      SendError(res, 429, "rate_limited", "too many requests for this key; slow down");
      return std::nullopt;
    }
    if (!who->Has(scope)) {
      SendError(res, 403, "permission_denied", "this key lacks the scope this route needs");
      return std::nullopt;
    }
    return *who;
  }

  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  // Registers a route: `doc` is its OpenAPI path ("/v1/review/{id}/decision"),
  // `pattern` the regular expression httplib matches.
  void Route(const char* method, const std::string& doc, const std::string& pattern,
             Handler handler) {
    routes.push_back(std::string(method) + " " + doc);
    const std::string name = std::string(method) + " " + doc;
    Metrics::Route* m = metrics.Add(name);
    auto wrapped = [m, handler](const httplib::Request& req, httplib::Response& res) {
      const auto start = std::chrono::steady_clock::now();
      handler(req, res);
      m->Observe(res.status,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    };
    const std::string_view mth(method);
    if (mth == "GET") {
      http.Get(pattern, wrapped);
    } else if (mth == "POST") {
      http.Post(pattern, wrapped);
    } else if (mth == "PUT") {
      http.Put(pattern, wrapped);
    }
  }

  // Parses a JSON body; sends 415/400 itself when it is not.
  std::optional<json> JsonBody(const httplib::Request& req, httplib::Response& res) {
    if (MediaType(req) != "application/json") {
      SendError(res, 415, "unsupported_media_type", "send the body as application/json");
      return std::nullopt;
    }
    json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded()) {
      SendError(res, 400, "invalid_argument", "malformed JSON body");
      return std::nullopt;
    }
    return j;
  }

  static int64_t PathId(const httplib::Request& req, httplib::Response& res) {
    const std::string text = req.matches[1];
    if (text.size() > 18) {
      SendError(res, 404, "not_found", "no such item");
      return -1;
    }
    return std::stoll(text);
  }

  void RegisterRoutes();
};

void ApiServer::Impl::RegisterRoutes() {
  Route("GET", "/healthz", "/healthz", [](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, json{{"status", "ok"}});
  });
  Route("GET", "/readyz", "/readyz", [this](const httplib::Request&, httplib::Response& res) {
    // Ready once the engine is open (the indexes are built before the
    // server binds); a broken store shows up as not ready.
    EngineStats s = engine.Stats();
    if (s.submissions < 0) {
      SendJson(res, 503, json{{"status", "unavailable"}});
      return;
    }
    SendJson(res, 200, json{{"status", "ready"}});
  });
  Route("GET", "/metrics", "/metrics", [this](const httplib::Request& req, httplib::Response& res) {
    if (!Admit(req, res, kScopeAdmin)) return;
    res.set_content(metrics.Render(engine.Stats()), "text/plain; version=0.0.4");
  });
  Route("GET", "/v1/openapi.json", "/v1/openapi.json",
        [](const httplib::Request&, httplib::Response& res) {
          res.set_content(std::string(OpenApiDocument()), "application/json");
        });

  Route("POST", "/v1/content", "/v1/content",
        [this](const httplib::Request& req, httplib::Response& res) {
          std::optional<Principal> who = Admit(req, res, kScopeSubmit);
          if (!who) return;
          ContentMeta meta;
          httplib::MultipartFormData file;
          std::string_view bytes;
          auto number = [&](const std::string& text, int64_t* out) {
            if (text.empty()) return true;
            char* end = nullptr;
            const long long v = std::strtoll(text.c_str(), &end, 10);
            if (end != text.c_str() + text.size() || v < 0) return false;
            *out = v;
            return true;
          };
          std::string time_text;
          if (req.is_multipart_form_data()) {
            if (!req.has_file("file")) {
              SendError(res, 400, "invalid_argument", "multipart upload needs a \"file\" part");
              return;
            }
            // get_file_value returns a copy: keep it for the whole request.
            file = req.get_file_value("file");
            bytes = file.content;
            meta.content_id = req.get_file_value("content_id").content;
            meta.uploader_id = req.get_file_value("uploader_id").content;
            meta.surface = req.get_file_value("surface").content;
            time_text = req.get_file_value("content_time_ms").content;
          } else if (IsRawContentType(MediaType(req))) {
            bytes = req.body;
            meta.content_id = req.get_param_value("content_id");
            meta.uploader_id = req.get_param_value("uploader_id");
            meta.surface = req.get_param_value("surface");
            time_text = req.get_param_value("content_time_ms");
          } else {
            SendError(res, 415, "unsupported_media_type",
                      "send raw bytes (application/octet-stream, image/*, video/*) or "
                      "multipart/form-data with a \"file\" part");
            return;
          }
          if (!number(time_text, &meta.content_time_ms)) {
            SendError(res, 400, "invalid_argument",
                      "content_time_ms must be Unix milliseconds (a non-negative integer)");
            return;
          }
          Send(res, engine.SubmitContent(*who, bytes, meta));
        });
  Route("POST", "/v1/lookup", "/v1/lookup",
        [this](const httplib::Request& req, httplib::Response& res) {
          std::optional<Principal> who = Admit(req, res, kScopeSubmit);
          if (!who) return;
          std::optional<json> body = JsonBody(req, res);
          if (!body) return;
          Send(res, engine.Lookup(*who, *body));
        });
  Route("POST", "/v1/messages", "/v1/messages",
        [this](const httplib::Request& req, httplib::Response& res) {
          std::optional<Principal> who = Admit(req, res, kScopeSubmit);
          if (!who) return;
          if (MediaType(req) != "application/json") {
            SendError(res, 415, "unsupported_media_type", "send the message as application/json");
            return;
          }
          Send(res, engine.SubmitMessage(*who, req.body));
        });
  Route("GET", "/v1/submissions/{id}", R"(/v1/submissions/(\d+))",
        [this](const httplib::Request& req, httplib::Response& res) {
          if (!Admit(req, res, kScopeAdmin)) return;
          const int64_t id = PathId(req, res);
          if (id < 0) return;
          Send(res, engine.GetSubmission(id));
        });

  Route("GET", "/v1/review/next", "/v1/review/next",
        [this](const httplib::Request& req, httplib::Response& res) {
          std::optional<Principal> who = Admit(req, res, kScopeReview);
          if (!who) return;
          Result<json> item = engine.NextReview(*who);
          if (item.ok() && item->is_null()) {
            res.status = 204;
            return;
          }
          Send(res, item);
        });
  Route(
      "POST", "/v1/review/{id}/decision", R"(/v1/review/(\d+)/decision)",
      [this](const httplib::Request& req, httplib::Response& res) {
        std::optional<Principal> who = Admit(req, res, kScopeReview);
        if (!who) return;
        const int64_t id = PathId(req, res);
        if (id < 0) return;
        std::optional<json> body = JsonBody(req, res);
        if (!body) return;
        if (!body->is_object() || !body->contains("decision") || !(*body)["decision"].is_string()) {
          SendError(res, 400, "invalid_argument",
                    "body must be {\"decision\": \"confirm\" | \"false_positive\" | "
                    "\"escalate\", \"note\": \"...\"}");
          return;
        }
        std::string note;
        if (auto n = body->find("note"); n != body->end()) {
          if (!n->is_string()) {
            SendError(res, 400, "invalid_argument", "\"note\" must be a string");
            return;
          }
          note = n->get<std::string>();
        }
        Send(res, engine.DecideReview(*who, id, (*body)["decision"].get<std::string>(), note));
      });
  Route("GET", "/v1/review/{id}/media", R"(/v1/review/(\d+)/media)",
        [this](const httplib::Request& req, httplib::Response& res) {
          std::optional<Principal> who = Admit(req, res, kScopeReview);
          if (!who) return;
          const int64_t id = PathId(req, res);
          if (id < 0) return;
          const std::string original = req.get_param_value("original");
          if (!original.empty() && original != "true" && original != "false") {
            SendError(res, 400, "invalid_argument", "original must be true or false");
            return;
          }
          Result<std::pair<std::string, std::string>> media =
              engine.ReviewMedia(*who, id, original == "true");
          if (!media.ok()) {
            SendStatus(res, media.status());
            return;
          }
          res.set_header("Cache-Control", "no-store");
          res.set_content(media->second, media->first);
        });
  Route("GET", "/v1/review/exposure", "/v1/review/exposure",
        [this](const httplib::Request& req, httplib::Response& res) {
          if (!Admit(req, res, kScopeAdmin)) return;
          Send(res, engine.ReviewerExposure());
        });

  Route("GET", "/v1/banks", "/v1/banks",
        [this](const httplib::Request& req, httplib::Response& res) {
          if (!Admit(req, res, kScopeAdmin)) return;
          Send(res, engine.ListBanks());
        });
  Route("POST", "/v1/banks", "/v1/banks",
        [this](const httplib::Request& req, httplib::Response& res) {
          std::optional<Principal> who = Admit(req, res, kScopeAdmin);
          if (!who) return;
          std::optional<json> body = JsonBody(req, res);
          if (!body) return;
          Send(res, engine.CreateBank(*who, *body), 201);
        });
  const std::string bank = R"(/v1/banks/([A-Za-z0-9._-]{1,128}))";
  Route("POST", "/v1/banks/{name}/import", bank + "/import",
        [this](const httplib::Request& req, httplib::Response& res) {
          std::optional<Principal> who = Admit(req, res, kScopeAdmin);
          if (!who) return;
          const std::string skip = req.get_param_value("skip_invalid");
          if (!skip.empty() && skip != "true" && skip != "false") {
            SendError(res, 400, "invalid_argument", "skip_invalid must be true or false");
            return;
          }
          Send(res, engine.ImportBank(*who, req.matches[1].str(), req.get_param_value("format"),
                                      req.get_param_value("signal"), skip == "true", req.body));
        });
  for (const bool enable : {true, false}) {
    Route("POST", enable ? "/v1/banks/{name}/enable" : "/v1/banks/{name}/disable",
          bank + (enable ? "/enable" : "/disable"),
          [this, enable](const httplib::Request& req, httplib::Response& res) {
            std::optional<Principal> who = Admit(req, res, kScopeAdmin);
            if (!who) return;
            Send(res, engine.SetBankEnabled(*who, req.matches[1].str(), enable));
          });
  }
  Route(
      "POST", "/v1/banks/{name}/remove-entry", bank + "/remove-entry",
      [this](const httplib::Request& req, httplib::Response& res) {
        std::optional<Principal> who = Admit(req, res, kScopeAdmin);
        if (!who) return;
        std::optional<json> body = JsonBody(req, res);
        if (!body) return;
        if (!body->is_object() || !(*body)["signal"].is_string() || !(*body)["value"].is_string()) {
          SendError(res, 400, "invalid_argument",
                    "body must be {\"signal\": ..., \"value\": ..., \"reason\": ...}");
          return;
        }
        const std::string reason = body->contains("reason") && (*body)["reason"].is_string()
                                       ? (*body)["reason"].get<std::string>()
                                       : std::string("removed by ") + who->name;
        Send(res,
             engine.RemoveEntry(*who, req.matches[1].str(), (*body)["signal"].get<std::string>(),
                                (*body)["value"].get<std::string>(), reason));
      });

  Route("GET", "/v1/policy", "/v1/policy",
        [this](const httplib::Request& req, httplib::Response& res) {
          if (!Admit(req, res, kScopeAdmin)) return;
          Send(res, engine.GetPolicy());
        });
  Route("POST", "/v1/policy/validate", "/v1/policy/validate",
        [this](const httplib::Request& req, httplib::Response& res) {
          if (!Admit(req, res, kScopeAdmin)) return;
          Send(res, engine.ValidatePolicy(req.body));
        });
  Route("PUT", "/v1/policy", "/v1/policy",
        [this](const httplib::Request& req, httplib::Response& res) {
          std::optional<Principal> who = Admit(req, res, kScopeAdmin);
          if (!who) return;
          Send(res, engine.PutPolicy(*who, req.body));
        });

  Route("GET", "/v1/audit", "/v1/audit",
        [this](const httplib::Request& req, httplib::Response& res) {
          if (!Admit(req, res, kScopeAdmin)) return;
          int64_t after = 0;
          int64_t limit = 100;
          for (auto [name, out] : {std::pair{"after", &after}, std::pair{"limit", &limit}}) {
            const std::string text = req.get_param_value(name);
            if (text.empty()) continue;
            char* end = nullptr;
            const long long v = std::strtoll(text.c_str(), &end, 10);
            if (end != text.c_str() + text.size() || v < 0) {
              SendError(res, 400, "invalid_argument",
                        std::string(name) + " must be a non-negative integer");
              return;
            }
            *out = v;
          }
          Send(res, engine.ListAudit(after, static_cast<size_t>(std::min<int64_t>(limit, 1000))));
        });
  Route("GET", "/v1/audit/verify", "/v1/audit/verify",
        [this](const httplib::Request& req, httplib::Response& res) {
          if (!Admit(req, res, kScopeAdmin)) return;
          Result<int64_t> n = engine.VerifyAudit();
          if (!n.ok() && n.status().code() == ErrorCode::kCorrupt) {
            SendJson(res, 200, json{{"ok", false}, {"error", n.status().message()}});
            return;
          }
          if (!n.ok()) {
            SendStatus(res, n.status());
            return;
          }
          SendJson(res, 200, json{{"ok", true}, {"events", *n}});
        });
}

ApiServer::ApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ApiServer::~ApiServer() { Stop(); }

Result<std::unique_ptr<ApiServer>> ApiServer::Create(Engine& engine) {
  auto impl = std::make_unique<Impl>(engine);
  const ServiceConfig& config = engine.config();
  const int threads = config.http_threads;
  impl->http.new_task_queue = [threads] {
    return new httplib::ThreadPool(static_cast<size_t>(threads));
  };
  impl->http.set_payload_max_length(static_cast<size_t>(config.max_body_bytes));
  // httplib writes an answer's headers and body separately: with Nagle's
  // algorithm on, the body waits for the client's delayed ACK (40 ms on
  // Linux) on every keep-alive answer.
  impl->http.set_tcp_nodelay(true);
  impl->http.set_keep_alive_max_count(100000);
  impl->http.set_keep_alive_timeout(30);
  impl->http.set_read_timeout(30, 0);
  impl->http.set_write_timeout(30, 0);
  impl->RegisterRoutes();
  // Unknown routes and httplib's own refusals (413 over the size limit,
  // 400 for a malformed request line) get the same JSON error shape.
  impl->http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    switch (res.status) {
      case 404:
        SendError(res, 404, "not_found", "no such route");
        break;
      case 413:
        SendError(res, 413, "limit_exceeded", "request body too large");
        break;
      default:
        SendError(res, res.status, "error", "the request was refused");
    }
  });
  impl->http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        std::fprintf(stderr, "safeguard serve: request failed: %s\n", what.c_str());
        SendError(res, 500, "internal", "the server could not complete the request");
      });
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

Status ApiServer::Bind(const std::string& host, int port) {
  if (port == 0) {
    const int bound = impl_->http.bind_to_any_port(host);
    if (bound <= 0) return Status::IoError("cannot listen on " + host);
    impl_->port = bound;
    return Status::Ok();
  }
  if (!impl_->http.bind_to_port(host, port)) {
    return Status::IoError("cannot listen on " + host + ":" + std::to_string(port) +
                           " (in use, or not an address of this machine)");
  }
  impl_->port = port;
  return Status::Ok();
}

int ApiServer::port() const { return impl_->port; }

Status ApiServer::Run() {
  impl_->run_started = true;
  if (impl_->stop_requested) {
    impl_->run_finished = true;
    return Status::Ok();
  }
  const bool ok = impl_->http.listen_after_bind();
  impl_->run_finished = true;
  if (!ok && !impl_->http.is_valid()) return Status::IoError("the HTTP server failed");
  return Status::Ok();
}

void ApiServer::Stop() {
  impl_->stop_requested = true;
  // Run has begun but may not be listening yet: wait until it is (or it
  // returned), so that stop() reaches the listen loop.
  while (impl_->run_started && !impl_->run_finished && !impl_->http.is_running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  impl_->http.stop();
}

std::vector<std::string> ApiServer::Routes() const { return impl_->routes; }

}  // namespace safeguard
