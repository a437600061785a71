#include "tornado/gen.h"

namespace tornado::gen {

// Tornado: tornado/gen.py sleep
Future<void> sleep(double duration) {
    Future<void> f = Future<void>::make();
    f.set_origin("gen.sleep");
    ioloop::IOLoop::current()->call_later(duration, [f]() { f.set_result(); });
    return f;
}

}  // namespace tornado::gen
