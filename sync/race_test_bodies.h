// sync/race_test_bodies.h: plain accesses compiled with the race detector's
// load/store instrumentation (race_test_bodies.cc, built only where
// NF_RACE_DETECTION is on), for race_detector_test.cc.
#ifndef NF_SYNC_RACE_TEST_BODIES_H_
#define NF_SYNC_RACE_TEST_BODIES_H_

namespace nf::sched::testing {

void InstrumentedWrite(int* p, int v);
int InstrumentedRead(const int* p);
// A function-local static sync::ThreadLocal<int>: the calling logical thread's.
int& InstrumentedThreadLocal();

}  // namespace nf::sched::testing

#endif  // NF_SYNC_RACE_TEST_BODIES_H_
