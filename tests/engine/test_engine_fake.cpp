// The Engine's scheduling, end to end but with a fake device (a BatchBackend on the host whose
// batches finish only when the test says so): requests with different parameters share one
// batch and each gets its own answer, priorities, cancellation, the next batch launched while
// the current one runs, device failures. Deterministic: no sleeps, no timing.
#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "poolers/activation.h"
#include "tests/engine/fake_backend.h"

namespace vkcls::test {
namespace {

std::vector<int32_t> ids_of(Engine& e, const std::string& text) {
  return e.tokenize(text, true).ids;
}

std::vector<float> expected_logits(const std::vector<int32_t>& ids) {
  return {ids.front() / 100.f, ids.front() / 100.f, 1 / 100.f};  // CLS pooling: one row
}

std::shared_ptr<Ticket> submit(Engine& e, Task t, std::vector<TextInput> in, RequestParams p = {}) {
  Request r;
  r.task = t;
  r.inputs = std::move(in);
  r.params = p;
  return e.submit(std::move(r));
}

TEST(EngineFake, DifferentParametersShareOneBatchAndEachGetsItsOwnAnswer) {
  Fixture f = make_engine(1, 4096);
  Engine& e = *f.engine;
  auto blocker = submit(e, Task::classify, {{"blocker"}});
  f.backend->wait_launches(1);
  // queued behind the blocker: raw logits, activated, truncated on the left, urgent, token-level
  RequestParams raw, left, urgent;
  raw.use_activation = false;
  left.truncate_prompt_tokens = 2;
  left.truncation_side = "left";
  urgent.priority = -3;
  auto a = submit(e, Task::classify, {{"the movie was great"}}, raw);
  auto b = submit(e, Task::classify, {{"the movie was great"}});
  TextInput as_ids;
  as_ids.token_ids = ids_of(e, "the movie was great");
  auto c = submit(e, Task::classify, {as_ids}, left);
  auto d = submit(e, Task::classify, {{"where is the station"}}, urgent);
  auto t = submit(e, Task::token_classify, {{"the movie"}});
  f.backend->release(2);
  auto ra = a->take().classify, rb = b->take().classify, rc = c->take().classify,
       rd = d->take().classify;
  auto rt = t->take().token_classify;
  blocker->wait();
  ASSERT_EQ(f.backend->launches(), 2u) << "everything queued went into one batch";
  auto batch = f.backend->batch(1);
  ASSERT_EQ(batch.size(), 5u);
  EXPECT_EQ(batch[0], ids_of(e, "where is the station")) << "the urgent request first";

  std::vector<int32_t> ids = ids_of(e, "the movie was great");
  std::vector<float> logits = expected_logits(ids);
  ASSERT_TRUE(ra[0].ok() && rb[0].ok() && rc[0].ok() && rd[0].ok() && rt[0].ok());
  EXPECT_EQ(ra[0].probs, logits);
  std::vector<float> act = logits;
  apply_activation(Activation::softmax, act);
  EXPECT_EQ(rb[0].probs, act);
  // token ids truncated on the left to 2: "great [SEP]", pooled at its first token
  std::vector<int32_t> kept(ids.end() - 2, ids.end());
  std::vector<float> c_act = expected_logits(kept);
  apply_activation(Activation::softmax, c_act);
  EXPECT_EQ(rc[0].probs, c_act);
  EXPECT_EQ(rc[0].prompt_tokens, 2);
  EXPECT_EQ(rt[0].tokens.size(), ids_of(e, "the movie").size());
}

TEST(EngineFake, MostUrgentQueuedRequestRunsFirst) {
  Fixture f = make_engine(1, 8);  // one short request per batch
  Engine& e = *f.engine;
  auto blocker = submit(e, Task::classify, {{"blocker"}});
  f.backend->wait_launches(1);
  RequestParams low, high;
  low.priority = 5;
  high.priority = -5;
  auto l = submit(e, Task::classify, {{"the movie was great"}}, low);
  auto h = submit(e, Task::classify, {{"where is the station"}}, high);
  f.backend->release(3);
  l->wait();
  h->wait();
  ASSERT_EQ(f.backend->launches(), 3u);
  EXPECT_EQ(f.backend->batch(1).at(0), ids_of(e, "where is the station"));
  EXPECT_EQ(f.backend->batch(2).at(0), ids_of(e, "the movie was great"));
}

TEST(EngineFake, CancelledWorkNeverRuns) {
  Fixture f = make_engine(1, 4096);
  Engine& e = *f.engine;
  auto blocker = submit(e, Task::classify, {{"blocker"}});
  f.backend->wait_launches(1);
  auto x = submit(e, Task::classify, {{"the movie"}, {"was great"}});
  EXPECT_EQ(x->sequences_total(), 2u);
  x->cancel();
  auto rx = x->take().classify;  // completes without the device
  for (auto& r : rx) EXPECT_EQ(r.error_kind, ErrorKind::cancelled) << r.error;
  f.backend->release(1);
  blocker->wait();
  EXPECT_EQ(f.backend->launches(), 1u);
  EXPECT_EQ(e.stats().cancelled_sequences, 2u);
}

// on_progress runs on the engine's thread inside its lock: a cancel from there must not
// deadlock, and takes effect at the next batch boundary (the C API cancels this way).
TEST(EngineFake, CancelFromOnProgressStopsBeforeTheNextBatch) {
  Fixture f = make_engine(1, 8);  // one slot, one input per batch
  Engine& e = *f.engine;
  std::shared_ptr<Ticket> x;
  size_t calls = 0;
  Request r;
  r.task = Task::classify;
  r.inputs = {{"the movie was great"}, {"where is the station"}, {"the river"}};
  r.on_progress = [&](size_t done, size_t total) {
    ++calls;
    EXPECT_EQ(done, 1u);
    EXPECT_EQ(total, 3u);
    x->cancel();
  };
  x = e.submit(std::move(r));  // nothing is delivered before the first release
  f.backend->release(1);
  auto rx = x->take().classify;
  ASSERT_EQ(rx.size(), 3u);
  EXPECT_TRUE(rx[0].ok()) << rx[0].error;
  EXPECT_EQ(rx[1].error_kind, ErrorKind::cancelled) << rx[1].error;
  EXPECT_EQ(rx[2].error_kind, ErrorKind::cancelled) << rx[2].error;
  EXPECT_EQ(calls, 1u);
  EXPECT_EQ(f.backend->launches(), 1u);
  EXPECT_EQ(e.stats().cancelled_sequences, 2u);
}

TEST(EngineFake, TheNextBatchIsLaunchedWhileTheCurrentOneRuns) {
  Fixture f = make_engine(2, 8);
  Engine& e = *f.engine;
  auto x =
      submit(e, Task::classify, {{"the movie was great"}, {"where is the station"}, {"the river"}});
  f.backend->wait_launches(2);  // two batches on the device, none finished
  EXPECT_EQ(x->sequences_done(), 0u);
  f.backend->release(3);
  auto r = x->take().classify;
  for (auto& y : r) EXPECT_TRUE(y.ok()) << y.error;
  EXPECT_EQ(f.backend->launches(), 3u);
}

TEST(EngineFake, ADeviceFailureFailsOnlyItsBatch) {
  Fixture f = make_engine(1, 8);
  Engine& e = *f.engine;
  f.backend->fail_next_finish();
  auto x = submit(e, Task::classify, {{"the movie was great"}});
  f.backend->wait_launches(1);
  auto y = submit(e, Task::classify, {{"where is the station"}});
  f.backend->release(2);
  auto rx = x->take().classify, ry = y->take().classify;
  EXPECT_EQ(rx[0].error_kind, ErrorKind::device_lost) << rx[0].error;
  EXPECT_TRUE(ry[0].ok()) << ry[0].error;
  EXPECT_TRUE(e.stats().device_lost);
}

TEST(EngineFake, TokenIdsGetTheSameCalibratedAnswerAsText) {
  Fixture f = make_engine(1, 4096, Calibration{0.5f, 2.0f});
  Engine& e = *f.engine;
  TextInput ids;
  ids.token_ids = ids_of(e, "the movie was great");
  f.backend->release(2);
  auto by_text = submit(e, Task::classify, {{"the movie was great"}})->take().classify;
  auto by_ids = submit(e, Task::classify, {ids})->take().classify;
  ASSERT_TRUE(by_text[0].ok() && by_ids[0].ok());
  EXPECT_EQ(by_text[0].probs, by_ids[0].probs);
  std::vector<float> want = expected_logits(*ids.token_ids);
  apply_activation(Activation::softmax, want, Calibration{0.5f, 2.0f});
  EXPECT_EQ(by_ids[0].probs, want);
}

TEST(EngineFake, RequestLevelErrorsAreTypedAndInputErrorsStayInTheirResult) {
  Fixture f = make_engine(1, 4096);
  Engine& e = *f.engine;
  try {
    submit(e, Task::score, {{"q", "d"}});
    FAIL() << "score on a model without score";
  } catch (const Error& err) {
    EXPECT_EQ(err.kind(), ErrorKind::unsupported);
  }
  f.backend->release(1);
  auto r = submit(e, Task::classify, {{""}, {"fine"}})->take().classify;
  EXPECT_EQ(r[0].error_kind, ErrorKind::invalid_input);
  EXPECT_TRUE(r[1].ok());
}

}  // namespace
}  // namespace vkcls::test
