// A move-only type-erased callable: what the IOLoop queues and what a Future
// runs when it completes.
//
// C++ only (Python callables need no such thing). std::function must be
// copyable, which rules out callables that own a coroutine frame, and it
// allocates for captures larger than two pointers; this one keeps up to
// 48 bytes inline, so queueing a callback on the request path does not
// allocate.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace tornado {

template <class Signature>
class UniqueFunction;

template <class R, class... Args>
class UniqueFunction<R(Args...)> {
  public:
    UniqueFunction() noexcept = default;
    UniqueFunction(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor)

    template <class F,
              class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, UniqueFunction> &&
                                       std::is_invocable_r_v<R, std::decay_t<F>&, Args...>>>
    UniqueFunction(F&& f) {  // NOLINT(google-explicit-constructor)
        using Fn = std::decay_t<F>;
        if constexpr (kFitsInline<Fn>) {
            ::new (static_cast<void*>(storage_)) Fn(std::forward<F>(f));
            vtable_ = &kInlineTable<Fn>;
        } else {
            Fn* heap = new Fn(std::forward<F>(f));
            ::new (static_cast<void*>(storage_)) Fn*(heap);
            vtable_ = &kHeapTable<Fn>;
        }
    }

    UniqueFunction(UniqueFunction&& other) noexcept { take(other); }

    UniqueFunction& operator=(UniqueFunction&& other) noexcept {
        if (this != &other) {
            reset();
            take(other);
        }
        return *this;
    }

    UniqueFunction(const UniqueFunction&) = delete;
    UniqueFunction& operator=(const UniqueFunction&) = delete;

    ~UniqueFunction() { reset(); }

    explicit operator bool() const noexcept { return vtable_ != nullptr; }

    R operator()(Args... args) {
        return vtable_->call(static_cast<void*>(storage_), std::forward<Args>(args)...);
    }

    void reset() noexcept {
        if (vtable_ != nullptr) {
            const VTable* vt = vtable_;
            vtable_ = nullptr;
            vt->destroy(static_cast<void*>(storage_));
        }
    }

  private:
    static constexpr std::size_t kInlineSize = 48;

    struct VTable {
        R (*call)(void*, Args&&...);
        void (*move)(void* dst, void* src) noexcept;
        void (*destroy)(void*) noexcept;
    };

    template <class Fn>
    static constexpr bool kFitsInline =
        sizeof(Fn) <= kInlineSize &&
        alignof(Fn) <= alignof(std::max_align_t) && std::is_nothrow_move_constructible_v<Fn>;

    template <class Fn>
    static constexpr VTable kInlineTable{
        [](void* p, Args&&... args) -> R {
            return (*std::launder(static_cast<Fn*>(p)))(std::forward<Args>(args)...);
        },
        [](void* dst, void* src) noexcept {
            Fn* from = std::launder(static_cast<Fn*>(src));
            ::new (dst) Fn(std::move(*from));
            from->~Fn();
        },
        [](void* p) noexcept { std::launder(static_cast<Fn*>(p))->~Fn(); },
    };

    template <class Fn>
    static constexpr VTable kHeapTable{
        [](void* p, Args&&... args) -> R {
            return (**std::launder(static_cast<Fn**>(p)))(std::forward<Args>(args)...);
        },
        [](void* dst, void* src) noexcept {
            ::new (dst) Fn*(*std::launder(static_cast<Fn**>(src)));
        },
        [](void* p) noexcept { delete *std::launder(static_cast<Fn**>(p)); },
    };

    void take(UniqueFunction& other) noexcept {
        if (other.vtable_ != nullptr) {
            other.vtable_->move(static_cast<void*>(storage_), static_cast<void*>(other.storage_));
            vtable_ = other.vtable_;
            other.vtable_ = nullptr;
        }
    }

    alignas(std::max_align_t) unsigned char storage_[kInlineSize];
    const VTable* vtable_ = nullptr;
};

/// What the IOLoop runs: a callback with no arguments.
using Callback = UniqueFunction<void()>;

}  // namespace tornado
