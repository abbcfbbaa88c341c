// ApiServer: the HTTP face of the Engine (JSON under /v1, described by the
// OpenAPI document served at /v1/openapi.json and kept in
// src/api/openapi.json).
//
// Every /v1 route but the OpenAPI document needs an API key
// ("Authorization: Bearer <token>" or "X-Api-Key: <token>") with the route's
// scope. Without a valid key the answer is 401 and says nothing else; with a
// key lacking the scope, 403. Each key is rate limited (429 with
// Retry-After). Bodies over limits.max_body_bytes get 413.
//
// Example:
//   Result<std::unique_ptr<ApiServer>> server = ApiServer::Create(engine);
//   Status s = (*server)->Bind("127.0.0.1", 8080);
//   (*server)->Run();   // until Stop() from another thread or a signal
//
// Thread safety: Stop() may be called from any thread (and from a signal
// handler's helper thread); everything else from the owning thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "safeguard/core/status.h"
#include "safeguard/engine/engine.h"

namespace safeguard {

class ApiServer {
 public:
  // REQUIRES: engine outlives the server.
  static Result<std::unique_ptr<ApiServer>> Create(Engine& engine);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds the listening socket (port 0: any free port; port() tells).
  // Errors: kIoError (address in use, permission).
  Status Bind(const std::string& host, int port);
  int port() const;
  // Serves until Stop(). REQUIRES: Bind succeeded.
  Status Run();
  void Stop();

  // "METHOD /path" of every route, with {name} for path parameters, as the
  // OpenAPI document writes them (the tests compare the two).
  std::vector<std::string> Routes() const;

 private:
  struct Impl;
  explicit ApiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The OpenAPI 3 document (JSON text) describing the routes.
std::string_view OpenApiDocument();

}  // namespace safeguard
