// Checks the live server against its OpenAPI document (src/api/openapi.json):
// the document names exactly the routes the server registers, and every
// answer to valid and invalid requests has a status the document lists for
// its operation and a body that validates against the documented schema.
#include <gtest/gtest.h>
#include <httplib.h>
#include <vips/vips.h>

#include <cmath>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <source_location>
#include <string>
#include <thread>
#include <vector>

#include "safeguard/api/server.h"
#include "safeguard/engine/engine.h"
#include "safeguard/media/image.h"
#include "safeguard/policy/policy.h"
#include "test_support.h"

namespace safeguard {
namespace {

using nlohmann::json;
using test_support::ScratchDir;

// --- a small JSON Schema validator for the OpenAPI 3.0 subset the document
// uses: type (with nullable), enum, required, properties,
// additionalProperties (false or a schema), items, minItems, maxItems,
// minimum, maximum, maxLength, anyOf, and $ref to anywhere in the document.
// Keywords it does not know (description, format, pattern, default) are
// ignored, as annotations.
class SchemaValidator {
 public:
  explicit SchemaValidator(const json& document) : document_(document) {}

  // What is wrong with `value`, one line per problem with its location;
  // empty when it validates.
  std::vector<std::string> Problems(const json& schema, const json& value) const {
    std::vector<std::string> out;
    Walk(schema, value, "$", &out);
    return out;
  }

  // The value at a local reference ("#/components/schemas/Error"); nullptr
  // when the document has none there.
  const json* Resolve(const std::string& ref) const {
    if (!ref.starts_with("#/")) return nullptr;
    const json::json_pointer pointer(ref.substr(1));
    if (!document_.contains(pointer)) return nullptr;
    return &document_.at(pointer);
  }

 private:
  static bool HasType(const json& value, const std::string& type) {
    if (type == "object") return value.is_object();
    if (type == "array") return value.is_array();
    if (type == "string") return value.is_string();
    if (type == "integer") return value.is_number_integer();
    if (type == "number") return value.is_number();
    if (type == "boolean") return value.is_boolean();
    return false;
  }

  void Walk(const json& schema_in, const json& value, const std::string& at,
            std::vector<std::string>* out) const {
    const json* schema = &schema_in;
    // In OpenAPI 3.0 a $ref replaces its object: siblings are ignored.
    for (int depth = 0; schema->is_object() && schema->contains("$ref"); ++depth) {
      const std::string ref = (*schema)["$ref"].get<std::string>();
      schema = Resolve(ref);
      if (schema == nullptr || depth > 32) {
        out->push_back(at + ": unresolvable $ref " + ref);
        return;
      }
    }
    if (!schema->is_object()) {
      out->push_back(at + ": schema is not an object");
      return;
    }
    const json& s = *schema;
    if (value.is_null() && s.value("nullable", false)) return;
    if (auto any = s.find("anyOf"); any != s.end()) {
      bool matched = false;
      for (const json& alternative : *any) {
        if (Problems(alternative, value).empty()) {
          matched = true;
          break;
        }
      }
      if (!matched) out->push_back(at + ": matches none of anyOf");
    }
    if (auto type = s.find("type"); type != s.end()) {
      if (!HasType(value, type->get<std::string>())) {
        out->push_back(at + ": " + value.dump() + " is not of type " + type->get<std::string>() +
                       (value.is_null() ? " (and the schema is not nullable)" : ""));
        return;
      }
    }
    if (auto values = s.find("enum"); values != s.end()) {
      if (std::find(values->begin(), values->end(), value) == values->end()) {
        out->push_back(at + ": " + value.dump() + " is not one of " + values->dump());
      }
    }
    if (value.is_number()) {
      const double v = value.get<double>();
      if (s.contains("minimum") && v < s["minimum"].get<double>()) {
        out->push_back(at + ": " + value.dump() + " is below the minimum");
      }
      if (s.contains("maximum") && v > s["maximum"].get<double>()) {
        out->push_back(at + ": " + value.dump() + " is above the maximum");
      }
    }
    if (value.is_string() && s.contains("maxLength") &&
        value.get_ref<const std::string&>().size() > s["maxLength"].get<size_t>()) {
      out->push_back(at + ": string longer than maxLength");
    }
    if (value.is_object()) {
      for (const json& name : s.value("required", json::array())) {
        if (!value.contains(name.get<std::string>())) {
          out->push_back(at + ": missing required property " + name.get<std::string>());
        }
      }
      const json properties = s.value("properties", json::object());
      const json additional = s.value("additionalProperties", json(true));
      for (auto it = value.begin(); it != value.end(); ++it) {
        const std::string where = at + "." + it.key();
        if (auto p = properties.find(it.key()); p != properties.end()) {
          Walk(*p, it.value(), where, out);
        } else if (additional.is_boolean()) {
          if (!additional.get<bool>()) out->push_back(where + ": property not allowed");
        } else {
          Walk(additional, it.value(), where, out);
        }
      }
    }
    if (value.is_array()) {
      if (s.contains("minItems") && value.size() < s["minItems"].get<size_t>()) {
        out->push_back(at + ": fewer items than minItems");
      }
      if (s.contains("maxItems") && value.size() > s["maxItems"].get<size_t>()) {
        out->push_back(at + ": more items than maxItems");
      }
      if (auto items = s.find("items"); items != s.end()) {
        for (size_t i = 0; i < value.size(); ++i) {
          Walk(*items, value[i], at + "[" + std::to_string(i) + "]", out);
        }
      }
    }
  }

  const json& document_;
};

json Document() { return json::parse(OpenApiDocument()); }

// "METHOD path" of every operation the document describes.
std::set<std::string> DocumentedOperations(const json& document) {
  std::set<std::string> out;
  for (const auto& [path, item] : document["paths"].items()) {
    for (const auto& [method, operation] : item.items()) {
      std::string upper = method;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out.insert(upper + " " + path);
    }
  }
  return out;
}

std::string MediaTypeOf(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  return t;
}

// Whether `actual` ("image/png") is one of the documented media types
// (which may be ranges: "image/*", "*/*").
bool MediaTypeDocumented(const json& content, const std::string& actual) {
  for (const auto& [type, media] : content.items()) {
    if (type == actual || type == "*/*") return true;
    if (type.ends_with("/*") && actual.starts_with(type.substr(0, type.size() - 1))) return true;
  }
  return false;
}

// --- synthetic pictures, made in memory with libvips ------------------------

enum class Picture { kWaves, kBlocks };

std::vector<uint8_t> Pixels(Picture picture, int width, int height) {
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      double v = 0;
      if (picture == Picture::kWaves) {
        v = 128 + 120 * std::sin(x / 9.0) * std::cos(y / 13.0);
      } else {
        v = ((x / 32 + y / 48) % 2 == 0 ? 40 : 210) + (x % 64) / 4.0;
      }
      const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(width) + x) * 3;
      rgb[i] = static_cast<uint8_t>(v);
      rgb[i + 1] = static_cast<uint8_t>(255 - v);
      rgb[i + 2] = static_cast<uint8_t>(v / 2);
    }
  }
  return rgb;
}

// The picture encoded as "png" or "jpeg"; empty on failure.
std::string Encode(Picture picture, const std::string& format) {
  constexpr int kSide = 160;
  const std::vector<uint8_t> rgb = Pixels(picture, kSide, kSide);
  VipsImage* image =
      vips_image_new_from_memory(rgb.data(), rgb.size(), kSide, kSide, 3, VIPS_FORMAT_UCHAR);
  if (image == nullptr) return {};
  void* buffer = nullptr;
  size_t length = 0;
  const int failed = format == "png" ? vips_pngsave_buffer(image, &buffer, &length, nullptr)
                                     : vips_jpegsave_buffer(image, &buffer, &length, nullptr);
  g_object_unref(image);
  if (failed != 0) return {};
  std::string out(static_cast<const char*>(buffer), length);
  g_free(buffer);
  return out;
}

// --- a live server ------------------------------------------------------------

// An ApiServer on a free loopback port over an Engine on a scratch SQLite
// store, with one key per scope.
class LiveServer {
 public:
  // Nullptr (after reporting a test failure) when it cannot start.
  static std::unique_ptr<LiveServer> Start(ServiceConfig config) {
    std::unique_ptr<LiveServer> s(new LiveServer);
    config.store_url = "sqlite:" + s->dir_.File("safeguard.db");
    config.listen_host = "127.0.0.1";
    Result<std::unique_ptr<Engine>> engine = Engine::Open(config);
    if (!engine.ok()) {
      ADD_FAILURE() << "Engine::Open: " << engine.status().ToString();
      return nullptr;
    }
    s->engine_ = std::move(*engine);
    Result<std::unique_ptr<ApiServer>> server = ApiServer::Create(*s->engine_);
    if (!server.ok()) {
      ADD_FAILURE() << "ApiServer::Create: " << server.status().ToString();
      return nullptr;
    }
    s->server_ = std::move(*server);
    if (Status b = s->server_->Bind("127.0.0.1", 0); !b.ok()) {
      ADD_FAILURE() << "Bind: " << b.ToString();
      return nullptr;
    }
    for (auto [name, scope, token] : {std::tuple{"admin", kScopeAdmin, &s->admin},
                                      std::tuple{"submit", kScopeSubmit, &s->submit},
                                      std::tuple{"review", kScopeReview, &s->review}}) {
      Result<std::string> t = s->engine_->CreateKey(name, scope, "openapi_test");
      if (!t.ok()) {
        ADD_FAILURE() << "CreateKey: " << t.status().ToString();
        return nullptr;
      }
      *token = *t;
    }
    s->thread_ = std::thread([raw = s.get()] { (void)raw->server_->Run(); });
    s->client_ = std::make_unique<httplib::Client>("127.0.0.1", s->server_->port());
    s->client_->set_read_timeout(60, 0);
    // Stop() only ends a server that is running: wait until it answers.
    for (int i = 0; i < 500; ++i) {
      if (httplib::Result r = s->client_->Get("/healthz"); r && r->status == 200) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "the server does not answer /healthz";
    s->server_->Stop();
    s->thread_.join();
    return nullptr;
  }

  ~LiveServer() {
    client_.reset();
    if (server_) server_->Stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
    engine_.reset();
  }

  // Another key with `scopes`.
  std::string NewKey(const std::string& name, uint32_t scopes) {
    Result<std::string> t = engine_->CreateKey(name, scopes, "openapi_test");
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? *t : std::string();
  }

  std::vector<std::string> Routes() const { return server_->Routes(); }

  // One request. `method` is GET, POST or PUT; `token` "" sends no key.
  httplib::Result Send(const std::string& method, const std::string& path, const std::string& token,
                       const std::string& body = "", const std::string& content_type = "") {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    return SendWith(method, path, headers, body, content_type);
  }

  httplib::Result SendWith(const std::string& method, const std::string& path,
                           const httplib::Headers& headers, const std::string& body = "",
                           const std::string& content_type = "") {
    if (method == "GET") return client_->Get(path, headers);
    if (method == "PUT") return client_->Put(path, headers, body, content_type);
    return client_->Post(path, headers, body, content_type);
  }

  httplib::Result Multipart(const std::string& path, const std::string& token,
                            const httplib::MultipartFormDataItems& items) {
    httplib::Headers headers = {{"Authorization", "Bearer " + token}};
    return client_->Post(path, headers, items);
  }

  std::string admin, submit, review;

 private:
  LiveServer() = default;

  ScratchDir dir_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ApiServer> server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
};

// Checks answers against the document and remembers which operations and
// statuses were exercised.
class Conformance {
 public:
  Conformance() : document_(Document()), validator_(document_) {}

  const json& document() const { return document_; }
  const SchemaValidator& validator() const { return validator_; }

  // Expects `r` to be an answer with `status`, documented for `op` ("POST
  // /v1/banks"), with a documented media type and, for JSON, a body valid
  // against the documented schema. Returns the parsed JSON body (null when
  // there is none).
  json Expect(const std::string& op, const httplib::Result& r, int status,
              std::source_location where = std::source_location::current()) {
    const char* file = where.file_name();
    const int line = static_cast<int>(where.line());
    if (!r) {
      ADD_FAILURE_AT(file, line) << op << ": no answer (" << httplib::to_string(r.error()) << ")";
      return nullptr;
    }
    exercised_[op].insert(r->status);
    if (r->status != status) {
      ADD_FAILURE_AT(file, line) << op << ": status " << r->status << ", expected " << status
                                 << "; body: " << r->body.substr(0, 500);
    }
    const size_t space = op.find(' ');
    std::string method = op.substr(0, space);
    for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const json::json_pointer pointer("/paths/" + Escape(op.substr(space + 1)) + "/" + method);
    if (!document_.contains(pointer)) {
      ADD_FAILURE_AT(file, line) << op << ": not in the document";
      return nullptr;
    }
    const json& responses = document_.at(pointer)["responses"];
    auto documented = responses.find(std::to_string(r->status));
    if (documented == responses.end()) {
      ADD_FAILURE_AT(file, line) << op << ": status " << r->status
                                 << " is not documented; body: " << r->body.substr(0, 500);
      return nullptr;
    }
    const json* response = &*documented;
    if (response->contains("$ref")) response = validator_.Resolve((*response)["$ref"]);
    if (response == nullptr) {
      ADD_FAILURE_AT(file, line) << op << ": unresolvable response $ref";
      return nullptr;
    }
    const std::string type = MediaTypeOf(r->get_header_value("Content-Type"));
    if (!response->contains("content")) {
      if (!r->body.empty()) {
        ADD_FAILURE_AT(file, line) << op << ": documented without a body, but has one";
      }
      return nullptr;
    }
    const json& content = (*response)["content"];
    if (!MediaTypeDocumented(content, type)) {
      ADD_FAILURE_AT(file, line) << op << " " << r->status << ": media type \"" << type
                                 << "\" is not documented";
      return nullptr;
    }
    if (type != "application/json") return nullptr;
    json body = json::parse(r->body, nullptr, false);
    if (body.is_discarded()) {
      ADD_FAILURE_AT(file, line) << op << ": the body is not JSON: " << r->body.substr(0, 500);
      return nullptr;
    }
    if (!content.contains("application/json")) return body;
    for (const std::string& problem :
         validator_.Problems(content["application/json"]["schema"], body)) {
      ADD_FAILURE_AT(file, line) << op << " " << r->status << ": " << problem
                                 << "\n  body: " << r->body.substr(0, 2000);
    }
    return body;
  }

  // Operations of the document never exercised.
  std::vector<std::string> Unexercised() const {
    std::vector<std::string> out;
    for (const std::string& op : DocumentedOperations(document_)) {
      if (!exercised_.contains(op)) out.push_back(op);
    }
    return out;
  }

  // Documented statuses of operations that no request produced, as
  // "POST /v1/banks 413", leaving out 429 and 500 (every secured route
  // answers them the same way; one route's 429 is tested below, and a 500
  // needs a broken store). For the record, not a failure.
  std::vector<std::string> UnexercisedStatuses() const {
    std::vector<std::string> out;
    for (const auto& [path, item] : document_["paths"].items()) {
      for (const auto& [method, operation] : item.items()) {
        std::string op = method;
        for (char& c : op) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        op += " " + path;
        auto seen = exercised_.find(op);
        for (const auto& [status, response] : operation["responses"].items()) {
          const int code = std::stoi(status);
          if (code == 429 || code == 500) continue;
          if (seen == exercised_.end() || !seen->second.contains(code)) {
            out.push_back(op + " " + status);
          }
        }
      }
    }
    return out;
  }

 private:
  // A path as one JSON pointer token.
  static std::string Escape(const std::string& path) {
    std::string out;
    for (char c : path) {
      if (c == '~') {
        out += "~0";
      } else if (c == '/') {
        out += "~1";
      } else {
        out += c;
      }
    }
    return out;
  }

  json document_;
  SchemaValidator validator_;
  std::map<std::string, std::set<int>> exercised_;
};

// One secured request, with a body the route would accept.
struct Call {
  std::string op;  // "POST /v1/banks/{name}/import"
  std::string path;
  std::string body;
  std::string content_type;
  uint32_t scope = 0;

  std::string method() const { return op.substr(0, op.find(' ')); }
};

// A request for every secured operation, made concrete with the given bank,
// submission and review ids.
std::vector<Call> SecuredCalls(const std::string& bank, int64_t submission_id, int64_t review_id,
                               const std::string& pdq, const std::string& png) {
  const std::string lookup =
      json{{"signals", {{{"type", "pdq"}, {"value", pdq}, {"quality", 100}}}}}.dump();
  const std::string sub = std::to_string(submission_id);
  const std::string rev = std::to_string(review_id);
  return {
      {"GET /metrics", "/metrics", "", "", kScopeAdmin},
      {"POST /v1/content", "/v1/content?content_id=c1", png, "image/png", kScopeSubmit},
      {"POST /v1/lookup", "/v1/lookup", lookup, "application/json", kScopeSubmit},
      {"POST /v1/messages", "/v1/messages",
       R"({"conversation": "c9", "message": "m1", "sender": "s1", "text": "hello"})",
       "application/json", kScopeSubmit},
      {"GET /v1/submissions/{id}", "/v1/submissions/" + sub, "", "", kScopeAdmin},
      {"GET /v1/review/next", "/v1/review/next", "", "", kScopeReview},
      {"POST /v1/review/{id}/decision", "/v1/review/" + rev + "/decision",
       R"({"decision": "escalate"})", "application/json", kScopeReview},
      {"GET /v1/review/{id}/media", "/v1/review/" + rev + "/media", "", "", kScopeReview},
      {"GET /v1/review/exposure", "/v1/review/exposure", "", "", kScopeAdmin},
      {"GET /v1/banks", "/v1/banks", "", "", kScopeAdmin},
      {"POST /v1/banks", "/v1/banks", R"({"name": "another"})", "application/json", kScopeAdmin},
      {"POST /v1/banks/{name}/import", "/v1/banks/" + bank + "/import", pdq + "\n", "text/plain",
       kScopeAdmin},
      {"POST /v1/banks/{name}/enable", "/v1/banks/" + bank + "/enable", "", "", kScopeAdmin},
      {"POST /v1/banks/{name}/disable", "/v1/banks/" + bank + "/disable", "", "", kScopeAdmin},
      {"POST /v1/banks/{name}/remove-entry", "/v1/banks/" + bank + "/remove-entry",
       json{{"signal", "pdq"}, {"value", pdq}}.dump(), "application/json", kScopeAdmin},
      {"GET /v1/policy", "/v1/policy", "", "", kScopeAdmin},
      {"PUT /v1/policy", "/v1/policy", R"({"rules": []})", "application/json", kScopeAdmin},
      {"POST /v1/policy/validate", "/v1/policy/validate", R"({"rules": []})", "application/json",
       kScopeAdmin},
      {"GET /v1/audit", "/v1/audit", "", "", kScopeAdmin},
      {"GET /v1/audit/verify", "/v1/audit/verify", "", "", kScopeAdmin},
  };
}

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitializeImageDecoding().ok());
    png_waves_ = Encode(Picture::kWaves, "png");
    jpeg_blocks_ = Encode(Picture::kBlocks, "jpeg");
    ASSERT_FALSE(png_waves_.empty());
    ASSERT_FALSE(jpeg_blocks_.empty());
  }

  std::string RandomPdq() { return test_support::RandomHex(rng_, 64); }

  std::mt19937_64 rng_{20240611};
  std::string png_waves_;
  std::string jpeg_blocks_;
};

TEST_F(OpenApiTest, ValidatorAcceptsAndRejects) {
  const json document = Document();
  const SchemaValidator v(document);
  auto schema = [](const std::string& name) {
    return json{{"$ref", "#/components/schemas/" + name}};
  };
  const json error = {{"error", {{"code", "not_found"}, {"message", "no such bank"}}}};
  EXPECT_TRUE(v.Problems(schema("Error"), error).empty());

  json extra = error;
  extra["banks"] = json::array({"hotline"});
  EXPECT_FALSE(v.Problems(schema("Error"), extra).empty()) << "additionalProperties false";
  json missing = error;
  missing["error"].erase("message");
  EXPECT_FALSE(v.Problems(schema("Error"), missing).empty()) << "required";
  json wrong_type = error;
  wrong_type["error"]["code"] = 404;
  EXPECT_FALSE(v.Problems(schema("Error"), wrong_type).empty()) << "type";

  const json decision = {{"action", "block"},     {"review_priority", nullptr},
                         {"report_draft", false}, {"webhooks", json::array()},
                         {"policy_version", 0},   {"reasons", json::array()}};
  EXPECT_TRUE(v.Problems(schema("Decision"), decision).empty());
  json bad_enum = decision;
  bad_enum["action"] = "delete";
  EXPECT_FALSE(v.Problems(schema("Decision"), bad_enum).empty()) << "enum";
  json not_nullable = decision;
  not_nullable["report_draft"] = nullptr;
  EXPECT_FALSE(v.Problems(schema("Decision"), not_nullable).empty()) << "nullable";
  json bad_item = decision;
  bad_item["reasons"] = json::array({json{{"rule", 1}}});
  EXPECT_FALSE(v.Problems(schema("Decision"), bad_item).empty()) << "items";
  json out_of_range = decision;
  out_of_range["review_priority"] = 101;
  EXPECT_FALSE(v.Problems(schema("Decision"), out_of_range).empty()) << "maximum";

  EXPECT_TRUE(v.Problems(schema("ReviewRef"), nullptr).empty());
  EXPECT_TRUE(v.Problems(schema("Labels"), json{{"category", "A1"}}).empty());
  EXPECT_FALSE(v.Problems(schema("Labels"), json{{"category", 1}}).empty())
      << "additionalProperties schema";
  EXPECT_FALSE(v.Problems(schema("NoSuchSchema"), json::object()).empty()) << "$ref";
  const json any_of = {
      {"anyOf", json::array({json{{"type", "string"}}, json{{"type", "integer"}}})}};
  EXPECT_TRUE(v.Problems(any_of, 3).empty());
  EXPECT_FALSE(v.Problems(any_of, true).empty()) << "anyOf";
}

TEST_F(OpenApiTest, DocumentDescribesExactlyTheServerRoutes) {
  std::unique_ptr<LiveServer> server = LiveServer::Start(ServiceConfig{});
  ASSERT_NE(server, nullptr);
  const json document = Document();
  EXPECT_EQ(document["openapi"], "3.0.3");
  const std::vector<std::string> routes = server->Routes();
  const std::set<std::string> registered(routes.begin(), routes.end());
  EXPECT_EQ(registered.size(), routes.size()) << "a route registered twice";
  EXPECT_EQ(DocumentedOperations(document), registered);

  // Every $ref in the document resolves, and every secured operation names
  // its scope.
  const SchemaValidator v(document);
  std::vector<const json*> todo = {&document};
  while (!todo.empty()) {
    const json* j = todo.back();
    todo.pop_back();
    if (j->is_object() && j->contains("$ref")) {
      EXPECT_NE(v.Resolve((*j)["$ref"]), nullptr) << (*j)["$ref"];
    }
    if (j->is_structured()) {
      for (const json& child : *j) todo.push_back(&child);
    }
  }
  for (const auto& [path, item] : document["paths"].items()) {
    for (const auto& [method, operation] : item.items()) {
      const bool open = operation["security"].empty();
      EXPECT_EQ(open, !operation.contains("x-scope")) << method << " " << path;
      if (!open) {
        EXPECT_TRUE(operation["responses"].contains("401")) << method << " " << path;
        EXPECT_TRUE(operation["responses"].contains("403")) << method << " " << path;
      }
    }
  }

  // The served document is the embedded one.
  Conformance c;
  json served = c.Expect("GET /v1/openapi.json", server->Send("GET", "/v1/openapi.json", ""), 200);
  EXPECT_EQ(served, document);
}

TEST_F(OpenApiTest, EveryOperationAnswersAsDocumented) {
  std::unique_ptr<LiveServer> server = LiveServer::Start(ServiceConfig{});
  ASSERT_NE(server, nullptr);
  LiveServer& s = *server;
  Conformance c;
  const std::string& admin = s.admin;
  const std::string& submit = s.submit;
  const std::string& review = s.review;
  const std::string kJson = "application/json";

  // Open routes.
  c.Expect("GET /healthz", s.Send("GET", "/healthz", ""), 200);
  c.Expect("GET /readyz", s.Send("GET", "/readyz", ""), 200);
  c.Expect("GET /v1/openapi.json", s.Send("GET", "/v1/openapi.json", ""), 200);

  // Banks.
  json banks = c.Expect("GET /v1/banks", s.Send("GET", "/v1/banks", admin), 200);
  EXPECT_EQ(banks.size(), 2u) << "the platform's own block and allow banks";
  const std::string bank = "hotline-test";
  const json spec = {{"name", bank},
                     {"kind", "block"},
                     {"description", "synthetic hashes"},
                     {"source", "openapi_test"},
                     {"labels", {{"category", "A1"}}},
                     {"pdq_max_distance", 31}};
  c.Expect("POST /v1/banks", s.Send("POST", "/v1/banks", admin, spec.dump(), kJson), 201);
  c.Expect("POST /v1/banks", s.Send("POST", "/v1/banks", admin, spec.dump(), kJson), 409);
  c.Expect("POST /v1/banks",
           s.Send("POST", "/v1/banks", admin, R"({"name": "x", "colour": "red"})", kJson), 400);
  c.Expect("POST /v1/banks",
           s.Send("POST", "/v1/banks", admin, R"({"name": "x", "kind": "maybe"})", kJson), 400);
  c.Expect("POST /v1/banks", s.Send("POST", "/v1/banks", admin, R"({"name": "bad name!"})", kJson),
           400);
  c.Expect("POST /v1/banks", s.Send("POST", "/v1/banks", admin, R"({"name": )", kJson), 400);
  c.Expect("POST /v1/banks", s.Send("POST", "/v1/banks", admin, "[1, 2]", kJson), 400);
  c.Expect("POST /v1/banks", s.Send("POST", "/v1/banks", admin, spec.dump(), "text/plain"), 415);
  c.Expect("POST /v1/banks", s.Send("POST", "/v1/banks", admin, spec.dump(), ""), 415);

  // Content: an image that matches nothing yet, a non-image file, a JPEG by
  // multipart, and the refusals.
  const std::string sub_path = "/v1/content?content_id=waves-1&uploader_id=u1&surface=chat";
  json waves = c.Expect(
      "POST /v1/content",
      s.Send("POST", sub_path + "&content_time_ms=1700000000000", submit, png_waves_, "image/png"),
      200);
  ASSERT_TRUE(waves.is_object());
  EXPECT_EQ(waves["decision"]["action"], "allow");
  EXPECT_TRUE(waves["review"].is_null());
  const std::string waves_pdq = waves["signals"].value("pdq", "");
  ASSERT_EQ(waves_pdq.size(), 64u);
  const int64_t waves_submission = waves.value("submission_id", int64_t{0});

  const std::string file_bytes = "a plain file, not an image\n";
  json file = c.Expect("POST /v1/content",
                       s.Send("POST", "/v1/content?content_id=file-1", submit, file_bytes,
                              "application/octet-stream"),
                       200);
  ASSERT_TRUE(file.is_object());
  EXPECT_EQ(file["kind"], "file");
  const std::string file_md5 = file["signals"].value("md5", "");

  json blocks = c.Expect("POST /v1/content",
                         s.Multipart("/v1/content", submit,
                                     {{"file", jpeg_blocks_, "blocks.jpg", "image/jpeg"},
                                      {"content_id", "blocks-1", "", ""},
                                      {"uploader_id", "u2", "", ""},
                                      {"surface", "profile-photo", "", ""},
                                      {"content_time_ms", "1700000000001", "", ""}}),
                         200);
  ASSERT_TRUE(blocks.is_object());
  EXPECT_EQ(blocks["signals"].value("format", ""), "jpeg");
  json blocks_raw = c.Expect(
      "POST /v1/content",
      s.Send("POST", "/v1/content?content_id=blocks-2", submit, jpeg_blocks_, "image/jpeg"), 200);
  EXPECT_EQ(blocks["signals"], blocks_raw["signals"]) << "multipart hashes the file part as sent";
  EXPECT_EQ(blocks["decision"]["action"], "allow");
  c.Expect("POST /v1/content",
           s.Multipart("/v1/content", submit, {{"content_id", "no-file", "", ""}}), 400);
  c.Expect("POST /v1/content", s.Send("POST", "/v1/content", submit, "hello", "text/plain"), 415);
  c.Expect("POST /v1/content", s.Send("POST", "/v1/content", submit, "{}", kJson), 415);
  c.Expect("POST /v1/content", s.Send("POST", "/v1/content", submit, "", "image/png"), 400);
  c.Expect("POST /v1/content",
           s.Send("POST", "/v1/content?content_time_ms=yesterday", submit, png_waves_, "image/png"),
           400);
  c.Expect("POST /v1/content",
           s.Send("POST", "/v1/content?content_time_ms=-5", submit, png_waves_, "image/png"), 400);
  c.Expect("POST /v1/content",
           s.Send("POST", "/v1/content?content_id=" + std::string(300, 'x'), submit, png_waves_,
                  "image/png"),
           400);
  const std::string corrupt_png = png_waves_.substr(0, 64) + std::string(200, '\x5a');
  c.Expect("POST /v1/content", s.Send("POST", "/v1/content", submit, corrupt_png, "image/png"),
           422);

  // Import: the waves picture's PDQ among random ones, and the file's MD5.
  std::string list = "# synthetic\n";
  for (int i = 0; i < 5; ++i) list += RandomPdq() + "\n";
  list += waves_pdq + "\n";
  const std::string import_path = "/v1/banks/" + bank + "/import";
  json report = c.Expect("POST /v1/banks/{name}/import",
                         s.Send("POST", import_path, admin, list, "text/plain"), 200);
  EXPECT_EQ(report.value("added", 0), 6);
  c.Expect("POST /v1/banks/{name}/import",
           s.Send("POST", import_path + "?signal=md5&format=plain", admin, file_md5 + "\n",
                  "text/plain"),
           200);
  c.Expect("POST /v1/banks/{name}/import",
           s.Send("POST", import_path, admin, RandomPdq() + "\nnot-a-hash\n", "text/plain"), 400);
  report = c.Expect("POST /v1/banks/{name}/import",
                    s.Send("POST", import_path + "?skip_invalid=true", admin,
                           RandomPdq() + "\nnot-a-hash\n", "text/plain"),
                    200);
  EXPECT_EQ(report.value("skipped", 0), 1);
  c.Expect("POST /v1/banks/{name}/import",
           s.Send("POST", import_path + "?skip_invalid=maybe", admin, list, "text/plain"), 400);
  c.Expect("POST /v1/banks/{name}/import",
           s.Send("POST", import_path + "?format=spreadsheet", admin, list, "text/plain"), 400);
  c.Expect("POST /v1/banks/{name}/import",
           s.Send("POST", import_path + "?signal=crc32", admin, list, "text/plain"), 400);
  c.Expect("POST /v1/banks/{name}/import",
           s.Send("POST", "/v1/banks/no-such-bank/import", admin, list, "text/plain"), 404);
  c.Expect("POST /v1/banks/{name}/import",
           s.Send("POST", import_path + "?format=threatexchange", admin, "{not json", kJson), 400);

  // Now the picture and the file match: block, and review.
  json match = c.Expect(
      "POST /v1/content",
      s.Send("POST", "/v1/content?content_id=waves-2", submit, png_waves_, "image/png"), 200);
  ASSERT_TRUE(match.is_object());
  EXPECT_EQ(match["decision"]["action"], "block");
  EXPECT_EQ(match["decision"]["review_priority"], 90);
  ASSERT_FALSE(match["matches"].empty());
  EXPECT_EQ(match["matches"][0]["bank"], bank);
  EXPECT_TRUE(match["review"].is_object());
  json file_match = c.Expect("POST /v1/content",
                             s.Send("POST", "/v1/content?content_id=file-2", submit, file_bytes,
                                    "application/octet-stream"),
                             200);
  EXPECT_EQ(file_match["decision"]["action"], "block");

  // Lookups.
  const std::string kLookup = "/v1/lookup";
  auto lookup = [&](const json& signals) {
    return json{{"content_id", "lookup-1"}, {"surface", "chat"}, {"signals", signals}}.dump();
  };
  json allowed = c.Expect("POST /v1/lookup",
                          s.Send("POST", kLookup, submit,
                                 lookup({{{"type", "pdq"}, {"value", RandomPdq()}},
                                         {{"type", "md5"}, {"value", std::string(32, '0')}}}),
                                 kJson),
                          200);
  EXPECT_TRUE(allowed["submission_id"].is_null());
  json found =
      c.Expect("POST /v1/lookup",
               s.Send("POST", kLookup, submit,
                      lookup({{{"type", "pdq"}, {"value", waves_pdq}, {"quality", 100}}}), kJson),
               200);
  EXPECT_EQ(found["decision"]["action"], "block");
  const int64_t lookup_submission = found.value("submission_id", int64_t{0});
  EXPECT_GT(lookup_submission, 0);
  c.Expect("POST /v1/lookup", s.Send("POST", kLookup, submit, "{\"signals\": [", kJson), 400);
  c.Expect("POST /v1/lookup", s.Send("POST", kLookup, submit, lookup(json::array()), kJson), 400);
  c.Expect("POST /v1/lookup",
           s.Send("POST", kLookup, submit, lookup({{{"type", "tlsh"}, {"value", "00"}}}), kJson),
           400);
  c.Expect("POST /v1/lookup",
           s.Send("POST", kLookup, submit, lookup({{{"type", "pdq"}, {"value", "abc"}}}), kJson),
           400);
  c.Expect("POST /v1/lookup",
           s.Send("POST", kLookup, submit,
                  lookup({{{"type", "pdq"}, {"value", RandomPdq()}, {"quality", 101}}}), kJson),
           400);
  c.Expect("POST /v1/lookup",
           s.Send("POST", kLookup, submit,
                  lookup({{{"type", "pdq"}, {"value", RandomPdq()}, {"colour", "red"}}}), kJson),
           400);
  c.Expect(
      "POST /v1/lookup",
      s.Send("POST", kLookup, submit,
             json{{"content_id", 7}, {"signals", {{{"type", "md5"}, {"value", file_md5}}}}}.dump(),
             kJson),
      400);
  // Conversation messages.
  const std::string kMessages = "/v1/messages";
  auto message = [](const std::string& id, const std::string& text) {
    return json{{"conversation", "conv-1"},
                {"message", id},
                {"sender", "adult-1"},
                {"timestamp", "2024-05-01T16:00:00Z"},
                {"text", text}}
        .dump();
  };
  json plain =
      c.Expect("POST /v1/messages",
               s.Send("POST", kMessages, submit, message("m1", "see you at practice"), kJson), 200);
  EXPECT_TRUE(plain["submission_id"].is_null());
  c.Expect("POST /v1/messages", s.Send("POST", kMessages, submit, "{\"text\": ", kJson), 400);
  c.Expect("POST /v1/messages",
           s.Send("POST", kMessages, submit, json{{"text", "no ids"}}.dump(), kJson), 400);
  c.Expect("POST /v1/messages",
           s.Send("POST", kMessages, submit, message("m2", "hi"), "text/plain"), 415);

  json many = json::array();
  for (int i = 0; i < 65; ++i) many.push_back({{"type", "pdq"}, {"value", RandomPdq()}});
  c.Expect("POST /v1/lookup", s.Send("POST", kLookup, submit, lookup(many), kJson), 413);
  c.Expect("POST /v1/lookup",
           s.Send("POST", kLookup, submit, lookup({{{"type", "md5"}, {"value", file_md5}}}),
                  "text/plain"),
           415);

  // Stored submissions (admin).
  c.Expect("GET /v1/submissions/{id}",
           s.Send("GET", "/v1/submissions/" + std::to_string(waves_submission), admin), 200);
  json stored_lookup =
      c.Expect("GET /v1/submissions/{id}",
               s.Send("GET", "/v1/submissions/" + std::to_string(lookup_submission), admin), 200);
  EXPECT_TRUE(stored_lookup["signals"].is_array());
  c.Expect("GET /v1/submissions/{id}", s.Send("GET", "/v1/submissions/999999", admin), 404);
  c.Expect("GET /v1/submissions/{id}",
           s.Send("GET", "/v1/submissions/1234567890123456789012", admin), 404);

  // Review: lease every item (the picture, the file, the lookup).
  std::map<std::string, json> items;  // by submission kind
  for (int i = 0; i < 10; ++i) {
    httplib::Result r = s.Send("GET", "/v1/review/next", review);
    if (r && r->status == 204) {
      c.Expect("GET /v1/review/next", r, 204);
      break;
    }
    json item = c.Expect("GET /v1/review/next", r, 200);
    if (!item.is_object()) break;
    EXPECT_EQ(item["state"], "leased");
    EXPECT_EQ(item["priority"], 90);
    items[item["submission"].value("kind", "")] = item;
  }
  ASSERT_EQ(items.size(), 3u);
  const json& image_item = items["image"];
  const json& file_item = items["file"];
  const json& hashes_item = items["hashes"];
  EXPECT_TRUE(image_item["has_media"].get<bool>());
  EXPECT_TRUE(hashes_item["media_url"].is_null());
  auto item_path = [](const json& item, const std::string& rest) {
    return "/v1/review/" + std::to_string(item["id"].get<int64_t>()) + rest;
  };

  const std::string kMedia = "GET /v1/review/{id}/media";
  httplib::Result rendition = s.Send("GET", item_path(image_item, "/media"), review);
  c.Expect(kMedia, rendition, 200);
  EXPECT_EQ(rendition->get_header_value("Content-Type"), "image/jpeg");
  EXPECT_EQ(rendition->get_header_value("Cache-Control"), "no-store");
  httplib::Result original = s.Send("GET", item_path(image_item, "/media?original=true"), review);
  c.Expect(kMedia, original, 200);
  EXPECT_EQ(original->body, png_waves_);
  c.Expect(kMedia, s.Send("GET", item_path(image_item, "/media?original=yes"), review), 400);
  c.Expect(kMedia, s.Send("GET", item_path(hashes_item, "/media"), review), 404);
  c.Expect(kMedia, s.Send("GET", "/v1/review/999999/media", review), 404);
  // A kept file that is not an image has no rendition; its original does.
  c.Expect(kMedia, s.Send("GET", item_path(file_item, "/media"), review), 422);
  c.Expect(kMedia, s.Send("GET", item_path(file_item, "/media?original=true"), review), 200);

  const std::string kDecide = "POST /v1/review/{id}/decision";
  const std::string image_decision = item_path(image_item, "/decision");
  c.Expect(kDecide, s.Send("POST", image_decision, review, "{\"decision\": ", kJson), 400);
  c.Expect(kDecide, s.Send("POST", image_decision, review, R"({"note": "x"})", kJson), 400);
  c.Expect(kDecide, s.Send("POST", image_decision, review, R"({"decision": "maybe"})", kJson), 400);
  c.Expect(kDecide,
           s.Send("POST", image_decision, review, R"({"decision": "confirm", "note": 3})", kJson),
           400);
  c.Expect(kDecide,
           s.Send("POST", image_decision, review, R"({"decision": "confirm"})", "text/plain"), 415);
  c.Expect(
      kDecide,
      s.Send("POST", "/v1/review/999999/decision", review, R"({"decision": "confirm"})", kJson),
      404);
  const std::string other_reviewer = s.NewKey("review-2", kScopeReview);
  c.Expect(kDecide,
           s.Send("POST", image_decision, other_reviewer, R"({"decision": "confirm"})", kJson),
           409);
  json decided = c.Expect(kDecide,
                          s.Send("POST", image_decision, review,
                                 R"({"decision": "confirm", "note": "synthetic test"})", kJson),
                          200);
  EXPECT_EQ(decided["verdict"], "confirm");
  c.Expect(kDecide, s.Send("POST", image_decision, review, R"({"decision": "confirm"})", kJson),
           409);
  c.Expect(kDecide,
           s.Send("POST", item_path(file_item, "/decision"), review,
                  R"({"decision": "false_positive"})", kJson),
           200);
  c.Expect(kDecide,
           s.Send("POST", item_path(hashes_item, "/decision"), review,
                  R"({"decision": "escalate"})", kJson),
           200);
  c.Expect("GET /v1/review/next", s.Send("GET", "/v1/review/next", review), 204);

  // The confirmed picture again: its hashes are in the platform's bank and
  // the same content is not put in front of a person twice.
  json again = c.Expect(
      "POST /v1/content",
      s.Send("POST", "/v1/content?content_id=waves-3", submit, png_waves_, "image/png"), 200);
  EXPECT_TRUE(again["review"].contains("already_confirmed_by")) << again["review"];
  json exposure =
      c.Expect("GET /v1/review/exposure", s.Send("GET", "/v1/review/exposure", admin), 200);
  EXPECT_FALSE(exposure.empty());

  // Bank state and entries.
  c.Expect("POST /v1/banks/{name}/disable", s.Send("POST", "/v1/banks/" + bank + "/disable", admin),
           200);
  c.Expect("POST /v1/banks/{name}/enable", s.Send("POST", "/v1/banks/" + bank + "/enable", admin),
           200);
  c.Expect("POST /v1/banks/{name}/enable", s.Send("POST", "/v1/banks/no-such-bank/enable", admin),
           404);
  c.Expect("POST /v1/banks/{name}/disable", s.Send("POST", "/v1/banks/no-such-bank/disable", admin),
           404);
  const std::string kRemove = "POST /v1/banks/{name}/remove-entry";
  const std::string remove_path = "/v1/banks/" + bank + "/remove-entry";
  const std::string remove_body =
      json{{"signal", "pdq"}, {"value", waves_pdq}, {"reason", "test"}}.dump();
  c.Expect(kRemove, s.Send("POST", remove_path, admin, remove_body, kJson), 200);
  c.Expect(kRemove, s.Send("POST", remove_path, admin, remove_body, kJson), 404);
  c.Expect(kRemove,
           s.Send("POST", "/v1/banks/no-such-bank/remove-entry", admin, remove_body, kJson), 404);
  c.Expect(kRemove,
           s.Send("POST", remove_path, admin, R"({"signal": "crc32", "value": "00"})", kJson), 400);
  c.Expect(kRemove,
           s.Send("POST", remove_path, admin, R"({"signal": "pdq", "value": "zz"})", kJson), 400);
  c.Expect(kRemove, s.Send("POST", remove_path, admin, R"({"signal": "pdq"})", kJson), 400);
  c.Expect(kRemove, s.Send("POST", remove_path, admin, "[]", kJson), 400);
  c.Expect(kRemove, s.Send("POST", remove_path, admin, "{", kJson), 400);
  c.Expect(kRemove, s.Send("POST", remove_path, admin, remove_body, "text/plain"), 415);
  banks = c.Expect("GET /v1/banks", s.Send("GET", "/v1/banks", admin), 200);
  EXPECT_EQ(banks.size(), 3u);

  // Policy.
  json policy = c.Expect("GET /v1/policy", s.Send("GET", "/v1/policy", admin), 200);
  EXPECT_EQ(policy["default"], true);
  const std::string yaml =
      "version_note: test\n"
      "rules:\n"
      "  - id: known\n"
      "    when: {bank_kind: block}\n"
      "    then: [block, {review: {priority: 60}}]\n";
  json valid =
      c.Expect("POST /v1/policy/validate",
               s.Send("POST", "/v1/policy/validate", admin, yaml, "application/yaml"), 200);
  EXPECT_EQ(valid["rules"], 1);
  c.Expect(
      "POST /v1/policy/validate",
      s.Send("POST", "/v1/policy/validate", admin,
             R"({"rules": [{"id": "x", "when": {"max_distanse": 3}, "then": ["block"]}]})", kJson),
      400);
  c.Expect("POST /v1/policy/validate",
           s.Send("POST", "/v1/policy/validate", admin,
                  R"({"webhooks": {"soc": "https://soc.example/hook"},
                      "rules": [{"id": "x", "then": [{"webhook": "soc"}]}]})",
                  kJson),
           400);
  c.Expect("POST /v1/policy/validate",
           s.Send("POST", "/v1/policy/validate", admin, "{\"rules\": [", kJson), 400);
  c.Expect("POST /v1/policy/validate",
           s.Send("POST", "/v1/policy/validate", admin,
                  "# " + std::string(kMaxPolicyBytes + 1, 'x') + "\nrules: []\n", "text/yaml"),
           413);
  json put = c.Expect("PUT /v1/policy", s.Send("PUT", "/v1/policy", admin, yaml, "text/yaml"), 200);
  EXPECT_EQ(put["version"], 1);
  c.Expect("PUT /v1/policy",
           s.Send("PUT", "/v1/policy", admin, R"({"rules": [{"id": "x"}]})", kJson), 400);
  c.Expect("PUT /v1/policy", s.Send("PUT", "/v1/policy", admin, "rules: [", "text/yaml"), 400);
  policy = c.Expect("GET /v1/policy", s.Send("GET", "/v1/policy", admin), 200);
  EXPECT_EQ(policy["default"], false);
  EXPECT_EQ(policy.value("text", ""), yaml);

  // Audit.
  json events = c.Expect("GET /v1/audit", s.Send("GET", "/v1/audit", admin), 200);
  EXPECT_GT(events.size(), 10u);
  events = c.Expect("GET /v1/audit", s.Send("GET", "/v1/audit?after=2&limit=3", admin), 200);
  EXPECT_EQ(events.size(), 3u);
  c.Expect("GET /v1/audit", s.Send("GET", "/v1/audit?after=-1", admin), 400);
  c.Expect("GET /v1/audit", s.Send("GET", "/v1/audit?limit=ten", admin), 400);
  json verified = c.Expect("GET /v1/audit/verify", s.Send("GET", "/v1/audit/verify", admin), 200);
  EXPECT_EQ(verified["ok"], true);

  httplib::Result metrics = s.Send("GET", "/metrics", admin);
  c.Expect("GET /metrics", metrics, 200);
  EXPECT_NE(metrics->body.find("# TYPE"), std::string::npos);

  // The same key in X-Api-Key works as well as in Authorization.
  c.Expect("GET /v1/banks", s.SendWith("GET", "/v1/banks", {{"X-Api-Key", admin}}), 200);

  // Video: signatures imported one per request, then a video upload that
  // both match (vPDQ and TMK fields in the answer, checked by the schema).
  if (!test_support::TestDataDir().empty()) {
    const std::string tmk_dir = test_support::TestDataDir() + "/tmk/";
    auto read = [](const std::string& path) {
      const std::vector<uint8_t> b = test_support::ReadBytes(path);
      return std::string(b.begin(), b.end());
    };
    const std::string video = read(tmk_dir + "sample-videos/chair-19-sd-bar.mp4");
    report = c.Expect(
        "POST /v1/banks/{name}/import",
        s.Send("POST", import_path + "?format=tmk", admin,
               read(tmk_dir + "sample-hashes/chair-19-sd-bar.tmk"), "application/octet-stream"),
        200);
    EXPECT_EQ(report.value("added", 0), 1);
    c.Expect("POST /v1/banks/{name}/import",
             s.Send("POST", import_path + "?format=vpdq", admin, "not vpdq", "text/plain"), 400);
    json seen =
        c.Expect("POST /v1/content",
                 s.Send("POST", "/v1/content?content_id=video-1", submit, video, "video/mp4"), 200);
    EXPECT_EQ(seen["kind"], "video");
    const std::string vpdq = seen["signals"].value("vpdq", "");
    ASSERT_FALSE(vpdq.empty());
    c.Expect("POST /v1/banks/{name}/import",
             s.Send("POST", import_path + "?format=vpdq", admin, vpdq, "text/plain"), 200);
    json video_match =
        c.Expect("POST /v1/content",
                 s.Send("POST", "/v1/content?content_id=video-2", submit, video, "video/mp4"), 200);
    std::set<std::string> signals;
    for (const json& m : video_match["matches"]) signals.insert(m.value("signal", ""));
    EXPECT_TRUE(signals.contains("vpdq") && signals.contains("tmk")) << video_match.dump();
    EXPECT_EQ(video_match["decision"]["action"], "block");
  }

  // Every secured operation: no key is 401, a key without the scope 403.
  const int64_t review_id = image_item["id"].get<int64_t>();
  for (const Call& call :
       SecuredCalls(bank, waves_submission, review_id, RandomPdq(), png_waves_)) {
    SCOPED_TRACE(call.op);
    c.Expect(call.op, s.Send(call.method(), call.path, "", call.body, call.content_type), 401);
    const std::string& wrong = call.scope == kScopeAdmin ? review : admin;
    c.Expect(call.op, s.Send(call.method(), call.path, wrong, call.body, call.content_type), 403);
  }

  EXPECT_EQ(c.Unexercised(), std::vector<std::string>{});
  std::string untested;
  for (const std::string& u : c.UnexercisedStatuses()) untested += "\n  " + u;
  std::printf("documented statuses no request produced here:%s\n", untested.c_str());
}

TEST_F(OpenApiTest, UnauthenticatedRequestsLearnNothing) {
  std::unique_ptr<LiveServer> server = LiveServer::Start(ServiceConfig{});
  ASSERT_NE(server, nullptr);
  LiveServer& s = *server;
  Conformance c;
  const std::string bank = "secret-bank-name";
  c.Expect("POST /v1/banks",
           s.Send("POST", "/v1/banks", s.admin, json{{"name", bank}}.dump(), "application/json"),
           201);
  const std::string pdq = RandomPdq();
  c.Expect("POST /v1/banks/{name}/import",
           s.Send("POST", "/v1/banks/" + bank + "/import", s.admin, pdq + "\n", "text/plain"), 200);
  json sub =
      c.Expect("POST /v1/content",
               s.Send("POST", "/v1/content?content_id=c0", s.submit, png_waves_, "image/png"), 200);

  const json expected = {
      {"error", {{"code", "unauthenticated"}, {"message", "missing or invalid API key"}}}};
  const std::vector<httplib::Headers> strangers = {
      {},
      {{"Authorization", "Bearer "}},
      {{"Authorization", "Bearer sgk_1_00000000000000000000000000000000"}},
      {{"Authorization", "Bearer " + s.admin + "x"}},
      {{"Authorization", "Basic " + s.admin}},
      {{"X-Api-Key", "sgk_999_00000000000000000000000000000000"}},
  };
  // The same answer whether or not the bank, submission and item exist.
  std::vector<Call> calls =
      SecuredCalls(bank, sub.value("submission_id", int64_t{1}), 1, pdq, png_waves_);
  for (const Call& call : SecuredCalls("no-such-bank", 999999, 999999, pdq, png_waves_)) {
    calls.push_back(call);
  }
  for (const Call& call : calls) {
    for (const httplib::Headers& headers : strangers) {
      SCOPED_TRACE(call.op);
      httplib::Result r =
          s.SendWith(call.method(), call.path, headers, call.body, call.content_type);
      json body = c.Expect(call.op, r, 401);
      EXPECT_EQ(body, expected);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer");
      for (const std::string& secret : {bank, pdq, std::string("platform-confirmed")}) {
        EXPECT_EQ(r->body.find(secret), std::string::npos) << secret;
        for (const auto& [name, value] : r->headers) {
          EXPECT_EQ(value.find(secret), std::string::npos) << name;
        }
      }
    }
  }
  // Nothing changed: the bank still has its one entry and no other bank.
  json banks = c.Expect("GET /v1/banks", s.Send("GET", "/v1/banks", s.admin), 200);
  ASSERT_EQ(banks.size(), 3u);
  for (const json& b : banks) {
    if (b["name"] == bank) {
      EXPECT_EQ(b["entries"], 1);
      EXPECT_EQ(b["enabled"], true);
    }
  }
}

// Query parameters and form fields arrive as raw bytes, which need not be
// UTF-8. Refusing such metadata (400) or keeping it readable (200) are both
// fine; what must not happen is a committed submission whose answer, stored
// record, audit event or review item can no longer be served as JSON.
TEST_F(OpenApiTest, MetadataThatIsNotUtf8NeverBreaksLaterAnswers) {
  std::unique_ptr<LiveServer> server = LiveServer::Start(ServiceConfig{});
  ASSERT_NE(server, nullptr);
  LiveServer& s = *server;
  Conformance c;
  json first = c.Expect("POST /v1/content",
                        s.Send("POST", "/v1/content", s.submit, png_waves_, "image/png"), 200);
  ASSERT_TRUE(first.is_object());
  c.Expect("POST /v1/banks",
           s.Send("POST", "/v1/banks", s.admin, R"({"name": "block-test"})", "application/json"),
           201);
  c.Expect("POST /v1/banks/{name}/import",
           s.Send("POST", "/v1/banks/block-test/import", s.admin,
                  first["signals"].value("pdq", "") + "\n", "text/plain"),
           200);

  std::vector<httplib::Result> answers;
  answers.push_back(s.Send("POST", "/v1/content?content_id=%FF%FEa&surface=chat%C3", s.submit,
                           png_waves_, "image/png"));
  answers.push_back(s.Multipart(
      "/v1/content", s.submit,
      {{"file", png_waves_, "w.png", "image/png"}, {"uploader_id", "\xff\xfe", "", ""}}));
  for (const httplib::Result& r : answers) {
    ASSERT_TRUE(r);
    json answer = c.Expect("POST /v1/content", r, r->status == 400 ? 400 : 200);
    if (r->status != 200 || !answer.is_object()) continue;
    c.Expect("GET /v1/submissions/{id}",
             s.Send("GET", "/v1/submissions/" + std::to_string(answer.value("submission_id", 0)),
                    s.admin),
             200);
  }
  c.Expect("GET /v1/audit", s.Send("GET", "/v1/audit?limit=1000", s.admin), 200);
  // Whatever went to review can be leased and read.
  for (int i = 0; i < 3; ++i) {
    httplib::Result r = s.Send("GET", "/v1/review/next", s.review);
    ASSERT_TRUE(r);
    if (r->status == 204) break;
    c.Expect("GET /v1/review/next", r, 200);
  }
}

TEST_F(OpenApiTest, LimitsAnswerAsDocumented) {
  ServiceConfig config;
  config.max_body_bytes = 4096;
  config.rate_per_key = 0.001;
  config.rate_burst = 3;
  std::unique_ptr<LiveServer> server = LiveServer::Start(config);
  ASSERT_NE(server, nullptr);
  LiveServer& s = *server;
  Conformance c;

  // Over max_body_bytes: 413 before the key is looked at (no token spent).
  const std::string big(8192, 'a');
  for (const Call& call : SecuredCalls("platform-confirmed", 1, 1, RandomPdq(), png_waves_)) {
    if (call.method() == "GET") continue;
    SCOPED_TRACE(call.op);
    json body =
        c.Expect(call.op, s.Send(call.method(), call.path, s.admin, big, "text/plain"), 413);
    EXPECT_EQ(body["error"]["code"], "limit_exceeded");
  }

  // The rate limit: a burst of three, then 429 with Retry-After.
  const std::string key = s.NewKey("limited", kScopeAdmin);
  for (int i = 0; i < 3; ++i) c.Expect("GET /v1/banks", s.Send("GET", "/v1/banks", key), 200);
  httplib::Result r = s.Send("GET", "/v1/banks", key);
  json body = c.Expect("GET /v1/banks", r, 429);
  EXPECT_EQ(body["error"]["code"], "rate_limited");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->get_header_value("Retry-After").empty());
  // Another key is not held back.
  c.Expect("GET /v1/banks", s.Send("GET", "/v1/banks", s.admin), 200);
}

}  // namespace
}  // namespace safeguard
