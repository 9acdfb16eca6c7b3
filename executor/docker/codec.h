// JSON ⇄ typed structs for the Engine API. The only docker/ file that knows JSON
// (codec.cc); the interface is strings in, structs out.
//
// Decoders return ErrorKind::peer naming the field at fault
// ("field State.ExitCode: expected a number"); callers add which request it was.
// Unknown fields are ignored; missing optional fields keep their defaults.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "docker/types.h"

namespace phaedo::docker::codec {

// The daemon's {"message": …} of an error answer, or the body's first line
// (shortened) when it is not JSON; "" for an empty body.
std::string daemon_message(std::string_view body);

// `filters` query value selecting by label: {"label":["k=v",…]}.
std::string label_filter(const LabelFilter& labels);

Result<VersionInfo> decode_version(std::string_view body);
Result<SystemInfo> decode_system_info(std::string_view body);

Result<ImageInfo> decode_image(std::string_view body);
// The JSON-lines progress stream of an import: the new image id, or the daemon's
// error when a line carries one (imports report errors with HTTP 200).
Result<std::string> decode_import_stream(std::string_view body);

std::string encode_container_spec(const ContainerSpec& spec);
Result<CreatedContainer> decode_created_container(std::string_view body);
Result<ContainerInfo> decode_container_info(std::string_view body);
Result<std::vector<ContainerSummary>> decode_container_list(std::string_view body);
Result<WaitResult> decode_wait(std::string_view body);

// check_duplicate: send CheckDuplicate (deprecated and ignored from API 1.44).
std::string encode_network_spec(const NetworkSpec& spec, bool check_duplicate);
Result<std::string> decode_network_id(std::string_view body);
Result<std::vector<NetworkInfo>> decode_network_list(std::string_view body);

std::string encode_volume_spec(const VolumeSpec& spec);
Result<VolumeInfo> decode_volume(std::string_view body);
Result<std::vector<VolumeInfo>> decode_volume_list(std::string_view body);

std::string encode_exec_spec(const ExecSpec& spec);
std::string encode_exec_start(Tty tty);
Result<std::string> decode_exec_id(std::string_view body);
Result<ExecInfo> decode_exec_info(std::string_view body);

}  // namespace phaedo::docker::codec
