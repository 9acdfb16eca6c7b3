// Nodes: read, list, and the conditional patch of labels and taints.
#include <charconv>

#include "k8s/client.h"
#include "k8s/codec.h"
#include "k8s/internal.h"

namespace phaedo::k8s {

using transport::Method;

std::optional<std::int64_t> Node::allocatable_count(const std::string& resource) const {
  auto it = allocatable.find(resource);
  if (it == allocatable.end()) return std::nullopt;
  std::string_view q = it->second;
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(q.data(), q.data() + q.size(), n);
  if (ec != std::errc{} || n < 0) return std::nullopt;
  std::string_view suffix(end, static_cast<std::size_t>(q.data() + q.size() - end));
  // Decimal SI suffixes that keep an integer; binary ones ("Ki") for completeness.
  static constexpr std::pair<std::string_view, std::int64_t> kMultipliers[] = {
      {"", 1},         {"k", 1000},     {"M", 1000000}, {"G", 1000000000},
      {"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}};
  for (auto [s, m] : kMultipliers) {
    if (suffix == s) return n * m;
  }
  return std::nullopt;
}

Result<Node> Client::get_node(const std::string& name) {
  if (Status s = check_name("node", name); !s) return s.error();
  return send_decoded<Node>(request(Method::get, "/api/v1/nodes/" + name), codec::decode_node);
}

Result<NodeList> Client::list_nodes(const Selector& selector) {
  transport::HttpRequest r = request(Method::get, "/api/v1/nodes");
  r.query = selector_query(selector);
  return send_decoded<NodeList>(r, codec::decode_node_list);
}

Result<Node> Client::patch_node(const std::string& name, const NodePatch& patch) {
  if (Status s = check_name("node", name); !s) return s.error();
  if (patch.resource_version.empty())
    return make_error(ErrorKind::invalid_input,
                      "node " + name + ": a patch needs the resourceVersion it was based on");
  return send_decoded<Node>(json_request(Method::patch, "/api/v1/nodes/" + name,
                                         codec::encode_node_patch(patch), "application/merge-patch+json"),
                            codec::decode_node);
}

}  // namespace phaedo::k8s
