// Fuzz target: the PROXY protocol header parser, whole and as a reader sees it
// arrive. Oracles: every shorter prefix of a header asks for more, never
// decides; the header alone decides as the header with what follows it does
// (same size and source: the parser never looks past the header); a header is
// no longer than its version allows; a refusal says why.
#include "souk/ingest/proxy_protocol.hpp"

#include <algorithm>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace pp = souk::ingest::proxy_protocol;
  const std::span<const std::uint8_t> input(data, std::min<std::size_t>(size, 2 * pp::max_v2_size));
  const auto whole = pp::parse(input);
  if (whole.status == pp::Status::header) {
    if (whole.size == 0 || whole.size > input.size()) __builtin_trap();
    const auto alone = pp::parse(input.first(whole.size));
    if (alone.status != pp::Status::header || alone.size != whole.size || alone.source != whole.source) {
      __builtin_trap();
    }
    const bool v1 = input[0] == 'P';
    if (whole.size > (v1 ? pp::max_v1_size : pp::max_v2_size)) __builtin_trap();
    for (std::size_t n = 1; n < whole.size; ++n) {
      if (pp::parse(input.first(n)).status != pp::Status::need_more) __builtin_trap();
    }
  }
  if (whole.status == pp::Status::invalid && whole.error.empty()) __builtin_trap();
  return 0;
}
