// The whole public API of dpool. See docs/ and README.md.
#pragma once

#include <dpool/async_result.hpp>
#include <dpool/connection.hpp>
#include <dpool/coordinator.hpp>
#include <dpool/errors.hpp>
#include <dpool/futures.hpp>
#include <dpool/init.hpp>
#include <dpool/keys.hpp>
#include <dpool/listener.hpp>
#include <dpool/manager.hpp>
#include <dpool/node.hpp>
#include <dpool/options.hpp>
#include <dpool/pool.hpp>
#include <dpool/process.hpp>
#include <dpool/push.hpp>
#include <dpool/queue.hpp>
#include <dpool/registry.hpp>
#include <dpool/results.hpp>
#include <dpool/shared_memory.hpp>
#include <dpool/shared_value.hpp>
#include <dpool/status.hpp>
#include <dpool/sync.hpp>
#include <dpool/this_task.hpp>
#include <dpool/thread_pool.hpp>
