// The shared states behind AsyncResult: one task, or the chunks of a map.
#pragma once

#include <dpool/async_result.hpp>
#include <dpool/detail/codec.hpp>
#include <dpool/detail/progress.hpp>
#include <memory>
#include <optional>
#include <vector>

namespace dpool::detail {

template <class T>
void decode_result(const Bytes& payload, T& value, const std::string& task) {
  try {
    decode_into(payload.view(), value);
  } catch (const std::exception& e) {
    throw SerializationError("could not decode the result of task '" + task + "': " + e.what());
  }
}

// Success or failure of one part; the common half of every state's deliver().
// Returns true if the payload should be kept (success, not yet done).
template <class State>
bool accept(State& s, std::unique_lock<std::mutex>& lock, Outcome& o) {
  if (s.ready_) return false;
  if (o.failure.code != ErrorCode::kNone) {
    auto error = s.failure_error(o);
    s.info_ = std::move(o.info);
    s.finish(lock, std::move(error));
    return false;
  }
  s.info_ = std::move(o.info);
  return true;
}

// One task's result.
template <class T>
class SingleState final : public ValueState<T> {
 public:
  using ValueState<T>::ValueState;

  void deliver(std::size_t, Outcome&& o) override {
    std::unique_lock lock(this->mu_);
    if (!accept(*this, lock, o)) return;
    payload_ = std::move(o.payload);
    this->finish(lock, nullptr);
  }

  const T& value() override {
    std::lock_guard lock(this->mu_);
    if (!value_) {
      T v{};
      decode_result(payload_, v, this->task_);
      value_.emplace(std::move(v));
      payload_ = {};
    }
    return *value_;
  }

 private:
  template <class S>
  friend bool accept(S&, std::unique_lock<std::mutex>&, Outcome&);
  Bytes payload_;
  std::optional<T> value_;
};

template <>
class SingleState<void> final : public ValueState<void> {
 public:
  using ValueState<void>::ValueState;
  void deliver(std::size_t, Outcome&& o) override {
    std::unique_lock lock(mu_);
    if (accept(*this, lock, o)) finish(lock, nullptr);
  }

 private:
  template <class S>
  friend bool accept(S&, std::unique_lock<std::mutex>&, Outcome&);
};

// Counts the parts of a map still missing.
class PartCounter {
 public:
  explicit PartCounter(std::size_t parts) : remaining_(parts) {}
  bool last_arrived() { return --remaining_ == 0; }
  bool none_left() const { return remaining_ == 0; }

 private:
  std::size_t remaining_;
};

// The result of a map: one part per chunk, assembled in order on first use.
// The first failing chunk fails the whole result at once (as multiprocessing
// does); the other chunks still run.
template <class R>
class MapState final : public ValueState<std::vector<R>> {
 public:
  MapState(std::string task, const std::string& signature, std::vector<std::size_t> chunk_sizes)
      : ValueState<std::vector<R>>(std::move(task), signature),
        sizes_(std::move(chunk_sizes)),
        payloads_(sizes_.size()),
        parts_(sizes_.size()) {}

  // A map over nothing is ready at once.
  void finish_if_empty() {
    std::unique_lock lock(this->mu_);
    if (parts_.none_left() && !this->ready_) this->finish(lock, nullptr);
  }

  void deliver(std::size_t part, Outcome&& o) override {
    std::unique_lock lock(this->mu_);
    if (part >= payloads_.size() || !accept(*this, lock, o)) {
      if (progress_ && this->ready_) progress_->finish();
      return;
    }
    payloads_[part] = std::move(o.payload);
    if (progress_) progress_->advance(sizes_[part]);
    if (parts_.last_arrived()) {
      if (progress_) progress_->finish();
      this->finish(lock, nullptr);
    }
  }
  // Shows the map's progress on stderr (see detail::Progress).
  void show_progress(std::shared_ptr<Progress> p) { progress_ = std::move(p); }

  const std::vector<R>& value() override {
    std::lock_guard lock(this->mu_);
    if (!value_) assemble();
    return *value_;
  }
  std::vector<R> take() override {
    std::lock_guard lock(this->mu_);
    if (!value_) assemble();
    return std::move(*value_);
  }

 private:
  template <class S>
  friend bool accept(S&, std::unique_lock<std::mutex>&, Outcome&);

  void assemble() {
    std::vector<R> all;
    std::size_t total = 0;
    for (auto n : sizes_) total += n;
    all.reserve(total);
    for (std::size_t i = 0; i < payloads_.size(); ++i) {
      std::vector<R> part;
      decode_result(payloads_[i], part, this->task_);
      if (part.size() != sizes_[i])
        throw SerializationError("a chunk of task '" + this->task_ + "' returned " +
                                 std::to_string(part.size()) + " results for " +
                                 std::to_string(sizes_[i]) + " inputs");
      std::move(part.begin(), part.end(), std::back_inserter(all));
      payloads_[i] = {};
    }
    value_.emplace(std::move(all));
  }

  std::vector<std::size_t> sizes_;
  std::vector<Bytes> payloads_;
  PartCounter parts_;
  std::optional<std::vector<R>> value_;
  std::shared_ptr<Progress> progress_;
};

// A map of a void task: only success or the first failure matters.
template <>
class MapState<void> final : public ValueState<void> {
 public:
  MapState(std::string task, const std::string& signature, std::vector<std::size_t> chunk_sizes)
      : ValueState<void>(std::move(task), signature),
        sizes_(std::move(chunk_sizes)),
        parts_(sizes_.size()) {}
  void finish_if_empty() {
    std::unique_lock lock(mu_);
    if (parts_.none_left() && !ready_) finish(lock, nullptr);
  }
  void deliver(std::size_t part, Outcome&& o) override {
    std::unique_lock lock(mu_);
    if (part >= sizes_.size() || !accept(*this, lock, o)) {
      if (progress_ && ready_) progress_->finish();
      return;
    }
    if (progress_) progress_->advance(sizes_[part]);
    if (parts_.last_arrived()) {
      if (progress_) progress_->finish();
      finish(lock, nullptr);
    }
  }
  void show_progress(std::shared_ptr<Progress> p) { progress_ = std::move(p); }

 private:
  template <class S>
  friend bool accept(S&, std::unique_lock<std::mutex>&, Outcome&);
  std::vector<std::size_t> sizes_;
  PartCounter parts_;
  std::shared_ptr<Progress> progress_;
};

}  // namespace dpool::detail
