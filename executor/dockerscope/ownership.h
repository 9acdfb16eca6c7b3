// Ownership asked of the daemon: an object is the job's when it carries the label
// phaedo.io/job=<key>. Names and id prefixes are resolved by the daemon itself
// (inspect), and callers forward the full id it returns, so a name re-pointed
// between the check and the forwarded request cannot redirect it.
//
// Execs carry no labels in the Engine API: an exec is the job's when its
// container is. Images are not labelled by pulls or tags, so image ownership is
// the ImageRecord's (image_record.h).
//
// Thread-safe as its HttpClient (the proxy serves connections on several threads).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dockerscope/policy.h"
#include "dockerscope/scope.h"
#include "transport/http.h"

namespace phaedo::dockerscope {

struct ImageFacts {
  std::string id;  // "sha256:…"
  std::vector<std::string> repo_tags;
  std::vector<std::string> repo_digests;  // empty: never pulled from or pushed to a registry
};

class DaemonOwner final : public Owner {
 public:
  DaemonOwner(transport::HttpClient& upstream, const Scope& scope) : http_(&upstream), scope_(&scope) {}

  Result<std::string> container(const std::string& ref) override;
  Result<std::string> network(const std::string& ref) override;
  Result<VolumeState> volume(const std::string& name) override;
  // The full id of the job's container running exec `id`... and the exec id.
  Result<std::string> exec(const std::string& id);
  // nullopt when no such image.
  Result<std::optional<ImageFacts>> image(const std::string& ref);
  // Creates a named volume with the job's labels (for Binds of new names).
  Status create_volume(const std::string& name);

 private:
  // GET `path`: the JSON document, not_found on 404, peer on other errors.
  Result<std::string> get(const std::string& path, const std::string& what, const std::string& ref);

  transport::HttpClient* http_;
  const Scope* scope_;
};

// Names that can be put in a URL path: [A-Za-z0-9_.:/@-], not empty, no "..".
[[nodiscard]] bool safe_ref(const std::string& ref);

}  // namespace phaedo::dockerscope
