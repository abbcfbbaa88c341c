#include "safeguard/api/server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "engine_test_util.h"

namespace safeguard {
namespace {

using nlohmann::json;
using test_support::MakeImage;
using test_support::PdqOf;
using test_support::ScratchDir;
using test_support::TestConfig;

// A live server on a free loopback port over a scratch store.
class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitializeImageDecoding().ok());
    Start(TestConfig(dir_));
  }
  void TearDown() override { Stop(); }

  void Start(const ServiceConfig& config) {
    Result<std::unique_ptr<Engine>> e = Engine::Open(config);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);
    Result<std::unique_ptr<ApiServer>> s = ApiServer::Create(*engine_);
    ASSERT_TRUE(s.ok());
    server_ = std::move(*s);
    ASSERT_TRUE(server_->Bind("127.0.0.1", 0).ok());
    thread_ = std::thread([this] { (void)server_->Run(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    admin_ = *engine_->CreateKey("admin" + std::to_string(++started_), kScopeAdmin, "test");
    submit_ = *engine_->CreateKey("submit" + std::to_string(started_), kScopeSubmit, "test");
    review_ = *engine_->CreateKey("review" + std::to_string(started_), kScopeReview, "test");
  }
  void Stop() {
    if (server_) server_->Stop();
    if (thread_.joinable()) thread_.join();
    client_.reset();
    server_.reset();
    engine_.reset();
  }

  static httplib::Headers Auth(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
  }
  static json Body(const httplib::Result& r) {
    return r ? json::parse(r->body, nullptr, false) : json();
  }

  ScratchDir dir_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ApiServer> server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
  std::string admin_, submit_, review_;
  int started_ = 0;
};

TEST_F(ApiTest, HealthAndReadinessNeedNoKey) {
  httplib::Result h = client_->Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  httplib::Result r = client_->Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Body(r)["status"], "ready");
}

TEST_F(ApiTest, WithoutAValidKeyNothingIsLearned) {
  ASSERT_EQ(
      client_->Post("/v1/banks", Auth(admin_), R"({"name": "secret-list"})", "application/json")
          ->status,
      201);
  const json expected = {
      {"error", {{"code", "unauthenticated"}, {"message", "missing or invalid API key"}}}};
  for (const httplib::Headers& h :
       {httplib::Headers{}, Auth("sgk_1_" + std::string(32, '0')), Auth("garbage"),
        httplib::Headers{{"X-Api-Key", "sgk_999_" + std::string(32, 'f')}}}) {
    for (const char* path : {"/v1/banks", "/v1/policy", "/v1/audit", "/metrics", "/v1/review/next",
                             "/v1/submissions/1"}) {
      httplib::Result r = client_->Get(path, h);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 401) << path;
      EXPECT_EQ(Body(r), expected) << path;
      EXPECT_EQ(r->body.find("secret-list"), std::string::npos);
    }
    httplib::Result p = client_->Post("/v1/lookup", h, R"({"signals": []})", "application/json");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->status, 401);
    EXPECT_EQ(Body(p), expected);
  }
  // A key without the scope gets 403, still without contents.
  httplib::Result r = client_->Get("/v1/banks", Auth(submit_));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->body.find("secret-list"), std::string::npos);
  // The same request with the admin key sees the bank.
  r = client_->Get("/v1/banks", Auth(admin_));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("secret-list"), std::string::npos);
}

TEST_F(ApiTest, SubmissionsByRawBytesAndMultipartMatchAndExplain) {
  const std::string image = MakeImage(21);
  const std::string pdq = PdqOf(image).first;
  ASSERT_EQ(client_
                ->Post("/v1/banks", Auth(admin_),
                       R"({"name": "hotline", "labels": {"category": "B1"}})", "application/json")
                ->status,
            201);
  httplib::Result imported = client_->Post("/v1/banks/hotline/import?format=plain&signal=pdq",
                                           Auth(admin_), pdq + "\n", "text/plain");
  ASSERT_TRUE(imported);
  ASSERT_EQ(imported->status, 200) << imported->body;
  EXPECT_EQ(Body(imported)["added"], 1);

  httplib::Result raw =
      client_->Post("/v1/content?content_id=raw-1&surface=chat", Auth(submit_), image, "image/png");
  ASSERT_TRUE(raw);
  ASSERT_EQ(raw->status, 200) << raw->body;
  json a = Body(raw);
  EXPECT_EQ(a["content_id"], "raw-1");
  EXPECT_EQ(a["decision"]["action"], "block");
  EXPECT_EQ(a["decision"]["review_priority"], 70);
  EXPECT_EQ(a["matches"][0]["bank"], "hotline");
  EXPECT_EQ(a["decision"]["reasons"][0]["matches"][0]["bank"], "hotline");

  httplib::MultipartFormDataItems form = {{"file", MakeImage(22), "other.png", "image/png"},
                                          {"content_id", "mp-1", "", ""},
                                          {"uploader_id", "user-9", "", ""},
                                          {"content_time_ms", "1700000000000", "", ""}};
  httplib::Result mp = client_->Post("/v1/content", Auth(submit_), form);
  ASSERT_TRUE(mp);
  ASSERT_EQ(mp->status, 200) << mp->body;
  json b = Body(mp);
  EXPECT_EQ(b["decision"]["action"], "allow");
  // The file part itself was hashed (as an image), not something else.
  EXPECT_EQ(b["kind"], "image");
  EXPECT_EQ(b["signals"]["pdq"], PdqOf(MakeImage(22)).first);
  // The submission is stored with its metadata, for the admin only.
  const std::string path = "/v1/submissions/" + std::to_string(b["submission_id"].get<int64_t>());
  EXPECT_EQ(client_->Get(path, Auth(submit_))->status, 403);
  httplib::Result stored = client_->Get(path, Auth(admin_));
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->status, 200);
  EXPECT_EQ(Body(stored)["uploader_id"], "user-9");
  EXPECT_EQ(Body(stored)["content_time_ms"], 1700000000000);
  EXPECT_EQ(client_->Get("/v1/submissions/999999", Auth(admin_))->status, 404);
}

TEST_F(ApiTest, ReviewRoundTripOverHttp) {
  const std::string image = MakeImage(23);
  ASSERT_EQ(
      client_->Post("/v1/banks", Auth(admin_), R"({"name": "b"})", "application/json")->status,
      201);
  ASSERT_EQ(
      client_->Post("/v1/banks/b/import?signal=pdq", Auth(admin_), PdqOf(image).first, "text/plain")
          ->status,
      200);
  ASSERT_EQ(client_->Post("/v1/content", Auth(submit_), image, "image/png")->status, 200);
  httplib::Result next = client_->Get("/v1/review/next", Auth(review_));
  ASSERT_TRUE(next);
  ASSERT_EQ(next->status, 200) << next->body;
  const int64_t id = Body(next)["id"];
  const std::string base = "/v1/review/" + std::to_string(id);
  // Another reviewer does not see an item leased to someone else.
  const std::string bob = *engine_->CreateKey("bob", kScopeReview, "test");
  EXPECT_EQ(client_->Get(base + "/media", Auth(bob))->status, 409);
  EXPECT_EQ(client_->Get(base + "/media?original=true", Auth(bob))->status, 409);
  httplib::Result media = client_->Get(base + "/media", Auth(review_));
  ASSERT_TRUE(media);
  EXPECT_EQ(media->status, 200);
  EXPECT_EQ(media->get_header_value("Content-Type"), "image/jpeg");
  EXPECT_NE(media->body, image);
  httplib::Result original = client_->Get(base + "/media?original=true", Auth(review_));
  ASSERT_TRUE(original);
  EXPECT_EQ(original->body, image);
  EXPECT_EQ(client_
                ->Post(base + "/decision", Auth(review_), R"({"decision": "approve"})",
                       "application/json")
                ->status,
            400);
  httplib::Result done =
      client_->Post(base + "/decision", Auth(review_), R"({"decision": "confirm", "note": "ok"})",
                    "application/json");
  ASSERT_TRUE(done);
  ASSERT_EQ(done->status, 200) << done->body;
  EXPECT_EQ(Body(done)["verdict"], "confirm");
  // Deciding again: the lease is gone.
  EXPECT_EQ(client_
                ->Post(base + "/decision", Auth(review_), R"({"decision": "confirm"})",
                       "application/json")
                ->status,
            409);
  EXPECT_EQ(client_->Get("/v1/review/next", Auth(review_))->status, 204);
  httplib::Result verify = client_->Get("/v1/audit/verify", Auth(admin_));
  ASSERT_TRUE(verify);
  EXPECT_EQ(Body(verify)["ok"], true) << verify->body;
}

TEST_F(ApiTest, BadRequestsGetClearFourHundredsAndChangeNothing) {
  auto post = [&](const std::string& path, const std::string& body, const std::string& type,
                  const std::string& key) {
    httplib::Result r = client_->Post(path, Auth(key), body, type);
    EXPECT_TRUE(r);
    return r ? std::make_pair(r->status, Body(r)) : std::make_pair(0, json());
  };
  auto [s1, b1] = post("/v1/lookup", "{not json", "application/json", submit_);
  EXPECT_EQ(s1, 400);
  EXPECT_EQ(b1["error"]["code"], "invalid_argument");
  auto [s2, b2] = post("/v1/lookup", R"({"signals": []})", "text/plain", submit_);
  EXPECT_EQ(s2, 415);
  auto [s3, b3] = post("/v1/content", "{}", "application/json", submit_);
  EXPECT_EQ(s3, 415);
  std::string truncated = MakeImage(24, 256, 192, "jpeg");
  truncated.resize(truncated.size() / 3);
  auto [s4, b4] = post("/v1/content", truncated, "image/jpeg", submit_);
  EXPECT_EQ(s4, 422);
  EXPECT_EQ(b4["error"]["code"], "corrupt");
  auto [s5, b5] =
      post("/v1/banks/nope/import?signal=md5", std::string(32, 'a'), "text/plain", admin_);
  EXPECT_EQ(s5, 404);
  auto [s6, b6] = post("/v1/policy/validate", "rules: [{id: x}]", "application/yaml", admin_);
  EXPECT_EQ(s6, 400);
  EXPECT_NE(b6["error"]["message"].get<std::string>().find("x"), std::string::npos);
  httplib::Result put =
      client_->Put("/v1/policy", Auth(admin_), "{\"rules\": 3}", "application/json");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 400);
  EXPECT_EQ(Body(client_->Get("/v1/policy", Auth(admin_)))["version"], 0);
  httplib::Result unknown = client_->Get("/v1/nothing-here", Auth(admin_));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(Body(unknown)["error"]["code"], "not_found");
  EXPECT_EQ(engine_->Stats().submissions, 0);
}

TEST_F(ApiTest, OversizedBodiesAndFloodsAreRefused) {
  Stop();
  ServiceConfig config = TestConfig(dir_);
  config.max_body_bytes = 4096;
  config.rate_per_key = 1;
  config.rate_burst = 3;
  Start(config);
  httplib::Result big = client_->Post("/v1/content", Auth(submit_), std::string(10000, 'x'),
                                      "application/octet-stream");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(Body(big)["error"]["code"], "limit_exceeded");
  int limited = 0;
  for (int i = 0; i < 6; ++i) {
    httplib::Result r = client_->Get("/v1/review/next", Auth(review_));
    ASSERT_TRUE(r);
    if (r->status == 429) {
      ++limited;
      EXPECT_FALSE(r->get_header_value("Retry-After").empty());
    }
  }
  EXPECT_GE(limited, 2);
  EXPECT_EQ(engine_->Stats().submissions, 0);
}

TEST_F(ApiTest, MetricsSpeakPrometheusText) {
  ASSERT_EQ(client_->Post("/v1/content", Auth(submit_), MakeImage(25), "image/png")->status, 200);
  httplib::Result m = client_->Get("/metrics", Auth(admin_));
  ASSERT_TRUE(m);
  ASSERT_EQ(m->status, 200);
  for (const char* want :
       {"safeguard_http_requests_total{route=\"POST /v1/content\",code=\"200\"} 1",
        "safeguard_http_request_duration_seconds_bucket{route=\"POST /v1/content\",le=\"+Inf\"} 1",
        "# TYPE safeguard_http_request_duration_seconds histogram",
        "safeguard_review_queue_depth 0", "safeguard_index_entries 0", "safeguard_submissions 1"}) {
    EXPECT_NE(m->body.find(want), std::string::npos) << want << "\n" << m->body;
  }
}

}  // namespace
}  // namespace safeguard
