#include "task_runner.hpp"

#include <cstdint>
#include <dpool/registry.hpp>

#include "exception_type.hpp"

namespace dpool::internal {

detail::Failure run_registered(const std::string& name, std::uint64_t fingerprint, bool chunk,
                               std::string_view args, const std::string& where, std::string& out) {
  detail::Failure f;
  auto& registry = detail::Registry::instance();
  auto* entry = registry.find(name);
  if (!entry) {
    f.code = ErrorCode::kUnknownTask;
    std::string known;
    auto names = registry.names(12);
    for (auto& n : names) known += (known.empty() ? "" : ", ") + n;
    auto total = registry.names(SIZE_MAX).size();
    if (total > names.size()) known += " (" + std::to_string(total) + " in all)";
    f.message = where + " has no task named '" + name + "'" +
                (known.empty() ? "; it knows no tasks at all" : "; it knows: " + known) +
                ". Register the function with DPOOL_REGISTER in the program or library that " +
                where + " runs";
    return f;
  }
  if (entry->fingerprint != fingerprint) {
    f.code = ErrorCode::kSignatureMismatch;
    f.type = entry->signature;
    f.message = where + " registered '" + name + "' as " + entry->signature;
    return f;
  }
  try {
    entry->invoke(args, chunk, out);
  } catch (const SerializationError& e) {
    f.code = ErrorCode::kSerialization;
    f.message = e.what();
  } catch (const std::exception& e) {
    f.code = ErrorCode::kTaskRaised;
    f.type = current_exception_type();
    f.message = e.what();
  } catch (...) {
    f.code = ErrorCode::kTaskRaised;
    f.type = current_exception_type();
    f.message = "an exception not derived from std::exception";
  }
  if (f.code != ErrorCode::kNone) out.clear();
  return f;
}

}  // namespace dpool::internal
