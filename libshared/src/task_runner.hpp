// Runs one registered task from its serialized arguments, turning whatever
// goes wrong into a detail::Failure: what an executor process does for each
// RUN record, and what a ThreadPool's threads do.
#pragma once

#include <cstdint>
#include <dpool/async_result.hpp>
#include <string>
#include <string_view>

namespace dpool::internal {

// Looks `name` up in this process's registry, checks `fingerprint`, and
// calls it on `args` (a chunk of items when `chunk`). On success `out`
// holds the serialized result and the failure's code is kNone. `where`
// names this place in messages ("node n1", "this program's threads").
detail::Failure run_registered(const std::string& name, std::uint64_t fingerprint, bool chunk,
                               std::string_view args, const std::string& where, std::string& out);

}  // namespace dpool::internal
