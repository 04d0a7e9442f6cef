// The restricted unpickler, the zip reader and the checkpoint checks, on pickles and
// archives built byte by byte here: what is accepted, and a typed error for everything else.
#include <gtest/gtest.h>

#include <cstring>

#include "models/torch_checkpoint.h"
#include "models/torch_pickle.h"
#include "models/torch_zip.h"
#include "torch_test_util.h"

using namespace vkcls;
using namespace vkcls::test;
using Kind = TorchCheckpointError::Kind;

namespace {

template <typename F>
void expect_torch_error(F&& f, Kind kind, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected kind " << torch_error_kind_name(kind);
  } catch (const TorchCheckpointError& e) {
    EXPECT_EQ(e.kind(), kind) << "got " << torch_error_kind_name(e.kind()) << ": " << e.what();
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << "\nmissing: " << p;
  }
}

PickleValue value_of(const std::string& p, const PickleLimits& limits = {}) {
  return torch_unpickle_value(reinterpret_cast<const uint8_t*>(p.data()), p.size(), "test.pkl",
                              nullptr, limits);
}
PickledStateDict state_dict_of(const std::string& p, const PickleLimits& limits = {}) {
  return torch_unpickle_state_dict(reinterpret_cast<const uint8_t*>(p.data()), p.size(), "test.pkl",
                                   nullptr, limits);
}
TorchCheckpoint parse(const std::vector<uint8_t>& b, const TorchLoadLimits& limits = {}) {
  return torch_checkpoint_parse(b.data(), b.size(), "test.bin", limits);
}

const std::string kSix = float_bytes({0, 1, 2, 3, 4, 5});  // storage "0": 6 floats

}  // namespace

// ---------------------------------------------------------------------------
// Plain values: the opcodes torch.save emits, protocols 2 to 5
// ---------------------------------------------------------------------------

TEST(TorchPickle, PlainValues) {
  Pickle p;
  p.proto(4).op(0x95).le(0, 8);  // FRAME (a hint, not checked against the content)
  p.mark().binint(-7).op('K').op(200).op('M').le(60000, 2).op(0x8a).op(1).op(
      0xff);                                              // -7, 200, 60000, LONG1 -1
  p.op(0x8a).op(0);                                       // LONG1 of 0 bytes: 0
  p.op(0x8a).op(10).raw(std::string(10, '\x01'));         // a big integer
  p.op('G').raw(std::string("\x3f\xf8\0\0\0\0\0\0", 8));  // BINFLOAT 1.5
  p.short_str("short").op(0x8d).le(3, 8).raw("abc").op('C').op(2).raw(
      "\x01\x02");                                     // strings, bytes
  p.op('U').op(2).raw("py").none().op(0x88).op(0x89);  // py2 str, None, True, False
  p.op('t').op(0x94);                                  // TUPLE, MEMOIZE as 0
  p.op(']').op(0x94).op('h').op(0).op('a');            // [(...)] via memo
  p.empty_dict().str("k").op('h').op(1).setitem();     // {"k": [...]}
  p.op(0x86).stop();                                   // ([...], {...})
  PickleValue v = value_of(p.b);
  ASSERT_EQ(v.kind, PickleValue::Kind::tuple);
  ASSERT_EQ(v.items.size(), 2u);
  const PickleValue& list = v.items[0];
  ASSERT_EQ(list.kind, PickleValue::Kind::list);
  ASSERT_EQ(list.items.size(), 1u);
  const auto& t = list.items[0].items;
  ASSERT_EQ(t.size(), 14u);
  EXPECT_EQ(t[0].integer, -7);
  EXPECT_EQ(t[1].integer, 200);
  EXPECT_EQ(t[2].integer, 60000);
  EXPECT_EQ(t[3].integer, -1);
  EXPECT_EQ(t[4].integer, 0);
  EXPECT_EQ(t[5].kind, PickleValue::Kind::big_integer);
  EXPECT_EQ(t[6].kind, PickleValue::Kind::floating);
  EXPECT_EQ(t[7].text, "short");
  EXPECT_EQ(t[8].text, "abc");
  EXPECT_EQ(t[9].kind, PickleValue::Kind::bytes);
  EXPECT_EQ(t[10].text, "py");
  EXPECT_EQ(t[11].kind, PickleValue::Kind::none);
  EXPECT_EQ(t[12].integer, 1);
  EXPECT_EQ(t[13].integer, 0);
  ASSERT_EQ(v.items[1].kind, PickleValue::Kind::dict);
  EXPECT_EQ(v.items[1].items[1].kind, PickleValue::Kind::list);
}

TEST(TorchPickle, StackDisciplineAndMemo) {
  expect_torch_error([] { value_of(Pickle().proto().stop().b); }, Kind::malformed,
                     {"stack underflow", "STOP"});
  // Items below a MARK are out of reach until the MARK is consumed (Python 3's metastack).
  expect_torch_error([] { value_of(Pickle().proto().none().mark().op('0').b); }, Kind::malformed,
                     {"stack underflow"});
  expect_torch_error([] { value_of(Pickle().proto().op('t').b); }, Kind::malformed, {"no MARK"});
  expect_torch_error([] { value_of(Pickle().proto().binget(3).b); }, Kind::malformed,
                     {"memo index 3"});
  expect_torch_error([] { value_of(Pickle().proto().none().none().op('a').b); }, Kind::malformed,
                     {"expected a list"});
  expect_torch_error([] { value_of(Pickle().proto().empty_dict().mark().none().op('u').b); },
                     Kind::malformed, {"odd number"});
  expect_torch_error([] { value_of(Pickle().proto(6).b); }, Kind::unsupported, {"protocol 6"});
  expect_torch_error([] { value_of(Pickle().proto().op(0xff).b); }, Kind::malformed,
                     {"unknown opcode 0xff"});
  // Truncation inside an opcode's argument, and a program without STOP.
  expect_torch_error([] { value_of(Pickle().proto().op('X').le(100, 4).raw("ab").b); },
                     Kind::truncated, {"BINUNICODE"});
  expect_torch_error([] { value_of(Pickle().proto().op(0x8d).le(~0ull, 8).b); }, Kind::truncated,
                     {"BINUNICODE8"});
  expect_torch_error([] { value_of(Pickle().proto().none().b); }, Kind::truncated, {});
  // The bytes after STOP are not read: the legacy format concatenates pickles.
  size_t used = 0;
  std::string two = Pickle().proto().none().stop().b + "rest";
  torch_unpickle_value(reinterpret_cast<const uint8_t*>(two.data()), two.size(), "t", &used);
  EXPECT_EQ(used, two.size() - 4);
}

TEST(TorchPickle, Limits) {
  PickleLimits small;
  small.max_stack = 100;
  small.max_objects = 100;
  small.max_memo = 10;
  small.max_items = 50;
  std::string deep = Pickle().proto().b + std::string(1000, '(');
  expect_torch_error([&] { value_of(deep, small); }, Kind::limit, {"max_stack"});
  std::string many = Pickle().proto().b;
  for (int i = 0; i < 200; i++) many += ")";  // EMPTY_TUPLE: one object each
  expect_torch_error([&] { value_of(many, small); }, Kind::limit, {"max_objects"});
  Pickle memo;
  memo.proto().none();
  for (int i = 0; i < 20; i++) memo.binput(uint8_t(i));
  expect_torch_error([&] { value_of(memo.b, small); }, Kind::limit, {"max_memo"});
  Pickle items;
  items.proto().op(']');
  for (int i = 0; i < 60; i++)
    items.op('2').op('a');  // DUP, APPEND: a list holding itself, 60 times
  expect_torch_error([&] { value_of(items.b, small); }, Kind::limit, {"max_items"});
  std::string huge_long = Pickle().proto().op(0x8b).le(100000, 4).b + std::string(100000, '\0');
  expect_torch_error([&] { value_of(huge_long); }, Kind::limit, {"integer of 100000 bytes"});
  // A self-referencing list is fine within limits and converts with a bounded depth.
  Pickle self;
  self.proto().op(']').op('2').op('a').stop();
  PickleValue v = value_of(self.b);
  EXPECT_EQ(v.kind, PickleValue::Kind::list);
  // ... but one that holds itself 40 times would expand to 40^8 nodes: the conversion is bounded.
  std::string w = Pickle().proto().op(']').binput(0).mark().b;
  for (int i = 0; i < 40; i++) w += Pickle().binget(0).b;
  w += "e.";  // APPENDS, STOP
  expect_torch_error([&] { value_of(w); }, Kind::limit, {"max_value_nodes"});
  // One tensor under many names: the per-name copies are bounded.
  Pickle names;
  names.proto()
      .empty_dict()
      .str("t0")
      .tensor("FloatStorage", "0", 6, 0, {6}, {1})
      .binput(9)
      .setitem();
  for (int i = 1; i < 20; i++) names.str("t" + std::to_string(i)).binget(9).setitem();
  names.stop();
  PickleLimits few;
  few.max_tensors = 10;
  expect_torch_error([&] { state_dict_of(names.b, few); }, Kind::limit, {"max_tensors"});
  EXPECT_EQ(state_dict_of(names.b).tensors.size(), 20u);
}

// ---------------------------------------------------------------------------
// Globals: the allow-list, and everything else refused before anything happens
// ---------------------------------------------------------------------------

TEST(TorchPickle, ForbiddenGlobalsAreRefusedByName) {
  struct Case {
    std::string module, name;
  };
  for (const Case& c :
       {Case{"os", "system"}, Case{"posix", "system"}, Case{"builtins", "eval"},
        Case{"builtins", "exec"}, Case{"__builtin__", "eval"}, Case{"subprocess", "Popen"},
        Case{"subprocess", "check_output"}, Case{"torch", "load"}, Case{"torch.hub", "load"},
        Case{"numpy.core.multiarray", "_reconstruct"}, Case{"collections", "defaultdict"},
        Case{"builtins", "getattr"}}) {
    SCOPED_TRACE(c.module + "." + c.name);
    // GLOBAL and STACK_GLOBAL, as a call REDUCE would make: refused at the name.
    Pickle g;
    g.proto().global(c.module, c.name).mark().str("touch /tmp/x").op('t').reduce().stop();
    expect_torch_error([&] { value_of(g.b); }, Kind::forbidden_global,
                       {"refused to load global " + c.module + "." + c.name});
    Pickle s;
    s.proto(4).stack_global(c.module, c.name).str("x").op(0x85).reduce().stop();
    expect_torch_error([&] { state_dict_of(s.b); }, Kind::forbidden_global,
                       {c.module + "." + c.name});
  }
  // Inside a tensor's arguments, as a storage type.
  Pickle t;
  t.proto().empty_dict().str("w").global("torch._utils", "_rebuild_tensor_v2").mark();
  t.mark().str("storage").global("os", "system").str("0").str("cpu").integer(1).op('t').op('Q');
  expect_torch_error([&] { state_dict_of(t.b); }, Kind::forbidden_global, {"os.system"});
}

TEST(TorchPickle, OpcodesThatImportOrBuildObjectsAreRefused) {
  // INST and OBJ import and call too; NEWOBJ, EXT*, out-of-band buffers and protocol 0 text forms
  // are not used by torch.
  for (auto [bytes, name] :
       {std::pair{std::string("ios\nsystem\n"), "INST"}, std::pair{std::string("(o"), "OBJ"},
        std::pair{std::string(")\x81"), "NEWOBJ"}, std::pair{std::string("\x82\x01"), "EXT1"},
        std::pair{std::string("\x97"), "NEXT_BUFFER"}, std::pair{std::string("I1\n"), "INT"},
        std::pair{std::string("S'a'\n"), "STRING"}, std::pair{std::string("Pabc\n"), "PERSID"},
        std::pair{std::string("\x8f"), "EMPTY_SET"}}) {
    SCOPED_TRACE(name);
    expect_torch_error([&] { value_of(Pickle().proto().b + bytes + "."); }, Kind::unsupported,
                       {name, "not supported"});
  }
  // Allowed names are not callable beyond their role.
  expect_torch_error(
      [] {
        value_of(Pickle().proto().global("torch", "FloatStorage").empty_tuple().reduce().stop().b);
      },
      Kind::malformed, {"torch.FloatStorage is not callable"});
  expect_torch_error([] { value_of(Pickle().proto().str("x").empty_tuple().reduce().stop().b); },
                     Kind::malformed, {"REDUCE calls a str"});
  // PyTorch's own types outside dense tensors are unsupported rather than unsafe.
  expect_torch_error(
      [] { value_of(Pickle().proto().global("torch._utils", "_rebuild_qtensor").stop().b); },
      Kind::unsupported, {"torch._utils._rebuild_qtensor"});
  expect_torch_error(
      [] { value_of(Pickle().proto().global("torch", "ComplexFloatStorage").stop().b); },
      Kind::unsupported, {"ComplexFloatStorage"});
  // Persistent ids only where storages are expected.
  expect_torch_error([] { value_of(Pickle().proto().storage("FloatStorage", "0", 1).stop().b); },
                     Kind::malformed, {"persistent id where plain data"});
}

TEST(TorchPickle, AllowListIsSmall) {
  std::vector<std::string> g = torch_pickle_allowed_globals();
  for (const auto& name : g) {
    bool ok = name == "collections.OrderedDict" || name.starts_with("torch._utils._rebuild_") ||
              name.starts_with("torch.");
    EXPECT_TRUE(ok) << name;
    EXPECT_EQ(name.find("system"), std::string::npos);
  }
  EXPECT_LT(g.size(), 50u);
}

// ---------------------------------------------------------------------------
// Tensors in a torch-like zip: views, strides, and every inconsistency
// ---------------------------------------------------------------------------

TEST(TorchZip, TensorViews) {
  // [3, 2] transposed view of the 6 floats: element (i, j) = storage[j * 3 + i].
  std::string pkl = one_tensor_pickle("w", "FloatStorage", "0", 6, 0, {3, 2}, {1, 3});
  TorchCheckpoint c = parse(make_torch_zip(pkl, {{"0", kSix}}));
  ASSERT_EQ(c.views.size(), 1u);
  std::vector<float> got(6);
  std::memcpy(got.data(), c.views[0].data, 24);
  EXPECT_EQ(got, (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(c.owned.size(), 1u);
  // Offset 1, [2, 2] with strides (3, 1): rows [1, 2] and [4, 5], each row contiguous.
  c = parse(make_torch_zip(one_tensor_pickle("w", "FloatStorage", "0", 6, 1, {2, 2}, {3, 1}),
                           {{"0", kSix}}));
  std::memcpy(got.data(), c.views[0].data, 16);
  EXPECT_EQ(std::vector<float>(got.begin(), got.begin() + 4), (std::vector<float>{1, 2, 4, 5}));
  // Contiguous with an offset: a view into the archive (which must outlive it), no copy.
  const std::vector<uint8_t> zip =
      make_torch_zip(one_tensor_pickle("w", "FloatStorage", "0", 6, 2, {4}, {1}), {{"0", kSix}});
  c = parse(zip);
  EXPECT_TRUE(c.owned.empty());
  EXPECT_GE(c.views[0].data, zip.data());
  EXPECT_LE(c.views[0].data + 16, zip.data() + zip.size());
  std::memcpy(got.data(), c.views[0].data, 16);
  EXPECT_EQ(got[0], 2.0f);
  // Size-1 dimensions may have any stride and still be contiguous.
  c = parse(make_torch_zip(one_tensor_pickle("w", "FloatStorage", "0", 6, 0, {1, 6}, {999, 1}),
                           {{"0", kSix}}));
  EXPECT_TRUE(c.owned.empty());
  // The archive folder may have any name (the file's stem at save time).
  std::vector<ZipFileEntry> e{{"my_model/data.pkl", pkl}, {"my_model/data/0", kSix}};
  EXPECT_EQ(parse(make_zip(e)).views.size(), 1u);
}

TEST(TorchZip, BadTensorsAndStorages) {
  auto zip = [](const std::string& pkl, const std::string& data = kSix) {
    return make_torch_zip(pkl, {{"0", data}});
  };
  auto one = [](int64_t numel, int64_t offset, std::vector<int64_t> sizes,
                std::vector<int64_t> strides) {
    return one_tensor_pickle("w", "FloatStorage", "0", numel, offset, sizes, strides);
  };
  expect_torch_error([&] { parse(zip(one(6, 1, {6}, {1}))); }, Kind::malformed,
                     {"reaches element 6", "holds 6 elements"});
  expect_torch_error(
      [&] {
        parse(zip(one(6, 0, {2, 3}, {4, 1})));
      },
      Kind::malformed, {"reaches element 6"});
  expect_torch_error([&] { parse(zip(one(6, 7, {0}, {1}))); }, Kind::malformed, {"past the end"});
  expect_torch_error([&] { parse(zip(one(6, -1, {1}, {1}))); }, Kind::malformed, {"negative"});
  expect_torch_error([&] { parse(zip(one(6, 0, {-2}, {1}))); }, Kind::malformed, {"negative"});
  expect_torch_error(
      [&] {
        parse(zip(one(6, 0, {2}, {1, 1})));
      },
      Kind::malformed, {"stride has 2"});
  expect_torch_error(
      [&] {
        parse(zip(one(6, 0, {int64_t(1) << 40, int64_t(1) << 40}, {0, 0})));
      },
      Kind::limit, {"overflows"});
  expect_torch_error([&] { parse(zip(one(6, 0, {5}, {int64_t(1) << 62}))); }, Kind::malformed,
                     {"extent overflows"});
  expect_torch_error([&] { parse(zip(one(int64_t(1) << 62, 0, {1}, {1}))); }, Kind::malformed,
                     {"impossible numel"});
  expect_torch_error([&] { parse(zip(one(7, 0, {7}, {1}))); }, Kind::truncated,
                     {"needs 28 bytes", "holds 24"});
  expect_torch_error(
      [&] {
        parse(make_torch_zip(one(6, 0, {6}, {1}), {{"1", kSix}}));
      },
      Kind::malformed, {"no entry archive/data/0"});
  std::vector<int64_t> rank65(65, 1);
  expect_torch_error([&] { parse(zip(one(6, 0, rank65, rank65))); }, Kind::limit,
                     {"65 dimensions"});
  // The same key twice with different sizes.
  Pickle two;
  two.proto().empty_dict().str("a").tensor("FloatStorage", "0", 6, 0, {6}, {1}).setitem();
  two.str("b").tensor("HalfStorage", "0", 6, 0, {6}, {1}).setitem().stop();
  expect_torch_error([&] { parse(zip(two.b)); }, Kind::malformed, {"named twice"});
  // A stride-0 expansion within the copy budget, then beyond it.
  TorchLoadLimits tight;
  tight.max_copy_bytes = 1000;
  EXPECT_EQ(parse(zip(one(6, 0, {10, 6}, {0, 1})), tight).owned.size(), 1u);
  expect_torch_error(
      [&] {
        parse(zip(one(6, 0, {100, 6}, {0, 1})), tight);
      },
      Kind::limit, {"max_copy_bytes"});
  // Not a state dict.
  expect_torch_error([&] { parse(zip(Pickle().proto().op(']').stop().b)); }, Kind::unsupported,
                     {"holds a list"});
  Pickle nested;
  nested.proto().empty_dict().str("state_dict").empty_dict().setitem().stop();
  expect_torch_error([&] { parse(zip(nested.b)); }, Kind::unsupported,
                     {"no tensors", "state_dict"});
}

TEST(TorchZip, ContainerErrors) {
  const std::string pkl = one_tensor_pickle("w", "FloatStorage", "0", 6, 0, {6}, {1});
  expect_torch_error(
      [&] {
        parse(make_torch_zip(pkl, {{"0", kSix}}, "big"));
      },
      Kind::unsupported, {"byteorder is \"big\""});
  expect_torch_error(
      [&] {
        parse(make_zip({{"archive/data.pkl", pkl, 8}}));
      },
      Kind::unsupported, {"compressed (method 8)"});
  expect_torch_error(
      [&] {
        parse(make_zip({{"archive/data.pkl", pkl, 0, 1}}));
      },
      Kind::unsupported, {"encrypted"});
  expect_torch_error(
      [&] {
        parse(make_zip({{"archive/other.txt", "x"}}));
      },
      Kind::unsupported, {"without <archive>/data.pkl"});
  expect_torch_error(
      [&] {
        parse(make_zip({{"archive/constants.pkl", "x"}, {"archive/code/m.py", "x"}}));
      },
      Kind::unsupported, {"TorchScript"});
  expect_torch_error(
      [&] {
        parse(make_zip({{"a/data.pkl", pkl}, {"b/data.pkl", pkl}}));
      },
      Kind::malformed, {"two pickles"});
  expect_torch_error(
      [&] {
        parse(make_zip({{"a/data.pkl", pkl}, {"a/data.pkl", pkl}}));
      },
      Kind::malformed, {"appears twice"});

  // Header fields pointing outside the file.
  std::vector<uint8_t> good = make_torch_zip(pkl, {{"0", kSix}});
  EXPECT_EQ(parse(good).views.size(), 1u);
  const size_t end = good.size() - 22;  // the end record (no comment)
  auto patched = [&](size_t at, uint32_t v) {
    std::vector<uint8_t> b = good;
    for (int i = 0; i < 4; i++) b[at + size_t(i)] = uint8_t(v >> (8 * i));
    return b;
  };
  expect_torch_error([&] { parse(patched(end + 16, 0x7fffffff)); }, Kind::malformed,
                     {"central directory"});
  expect_torch_error([&] { parse(patched(end + 12, 0x7fffffff)); }, Kind::malformed,
                     {"central directory"});
  uint32_t cd =
      uint32_t(good[end + 16] | good[end + 17] << 8 | good[end + 18] << 16 | good[end + 19] << 24);
  expect_torch_error([&] { parse(patched(cd + 42, 0x7ffffff0)); }, Kind::malformed,
                     {"local header offset"});
  expect_torch_error([&] { parse(patched(cd + 20, 0x7ffffff0)); }, Kind::malformed,
                     {"compressed size"});
  expect_torch_error([&] { parse(patched(cd + 20, 0)); }, Kind::malformed,
                     {"compressed size 0 != size"});
  {
    std::vector<uint8_t> b =
        patched(cd + 20, 0x7ffffff0);  // both sizes huge: data runs past the directory
    for (int i = 0; i < 4; i++) b[cd + 24 + size_t(i)] = b[cd + 20 + size_t(i)];
    expect_torch_error([&] { parse(b); }, Kind::truncated, {"runs past the central directory"});
  }
  expect_torch_error([&] { parse(patched(0, 0x04034b51)); }, Kind::malformed, {});
}

TEST(TorchZip, Zip64EndRecord) {
  // The same archive with ZIP64 end records in front of the classic one, whose fields say 0xffff...
  const std::string pkl = one_tensor_pickle("w", "FloatStorage", "0", 6, 0, {6}, {1});
  std::vector<uint8_t> b = make_torch_zip(pkl, {{"0", kSix}});
  const size_t end = b.size() - 22;
  auto rd = [&](size_t at, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | b[at + size_t(i)];
    return v;
  };
  uint64_t count = rd(end + 10, 2), cd_size = rd(end + 12, 4), cd_off = rd(end + 16, 4);
  std::vector<uint8_t> out(b.begin(), b.begin() + std::ptrdiff_t(end));
  auto le = [&](uint64_t v, int n) {
    for (int i = 0; i < n; i++) out.push_back(uint8_t(v >> (8 * i)));
  };
  uint64_t end64 = out.size();
  le(0x06064b50, 4), le(44, 8), le(45, 2), le(45, 2), le(0, 4), le(0, 4), le(count, 8),
      le(count, 8), le(cd_size, 8);
  le(cd_off, 8);
  le(0x07064b50, 4), le(0, 4), le(end64, 8), le(1, 4);
  le(0x06054b50, 4), le(0, 2), le(0, 2), le(0xffff, 2), le(0xffff, 2), le(0xffffffff, 4),
      le(0xffffffff, 4), le(0, 2);
  EXPECT_EQ(parse(out).views.size(), 1u);
  out[end64] ^= 1;  // the locator now points at garbage
  expect_torch_error([&] { parse(out); }, Kind::malformed, {"ZIP64"});
  out[end64] ^= 1;
  out[end64 + 32 + 2] = 0x20;  // 2^21 entries
  expect_torch_error([&] { parse(out); }, Kind::limit, {"exceed the limit"});
}

// ---------------------------------------------------------------------------
// The legacy format
// ---------------------------------------------------------------------------

namespace {

// magic, protocol 1001, sys_info, state dict (one tensor, legacy 6-item persistent id), keys,
// storage.
std::vector<uint8_t> legacy_file(
    const std::string& magic_tail = "\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19",
    int64_t protocol = 1001, bool little = true, bool view = false, uint64_t count = 6) {
  std::string s = Pickle().proto().op(0x8a).op(10).raw(magic_tail).stop().b;
  s += Pickle().proto().integer(protocol).stop().b;
  s += Pickle()
           .proto()
           .empty_dict()
           .str("little_endian")
           .op(little ? 0x88 : 0x89)
           .setitem()
           .stop()
           .b;
  Pickle sd;
  sd.proto().empty_dict().str("w").global("torch._utils", "_rebuild_tensor_v2").mark();
  sd.mark().str("storage").global("torch", "FloatStorage").str("1234").str("cpu").integer(6);
  if (view)
    sd.str("1234").integer(0).integer(6).op(0x87);
  else
    sd.none();
  sd.op('t')
      .op('Q')
      .integer(0)
      .tuple_of({2, 3})
      .tuple_of({3, 1})
      .newfalse()
      .empty_dict()
      .op('t')
      .reduce()
      .setitem()
      .stop();
  s += sd.b;
  s += Pickle().proto().op(']').str("1234").op('a').stop().b;
  for (int i = 0; i < 8; i++) s += char(uint8_t(count >> (8 * i)));
  s += kSix;
  return std::vector<uint8_t>(s.begin(), s.end());
}

}  // namespace

TEST(TorchLegacy, ReadsAndChecks) {
  const std::vector<uint8_t> file = legacy_file();  // the views point into it
  TorchCheckpoint c = parse(file);
  EXPECT_TRUE(c.legacy_format);
  ASSERT_EQ(c.views.size(), 1u);
  EXPECT_EQ(c.views[0].shape, (std::vector<int64_t>{2, 3}));
  float x;
  std::memcpy(&x, c.views[0].data + 20, 4);
  EXPECT_EQ(x, 5.0f);
  expect_torch_error([] { parse(legacy_file("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x18")); },
                     Kind::malformed, {"magic number"});
  expect_torch_error([] { parse(legacy_file("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 1000)); },
                     Kind::unsupported, {"protocol version 1000"});
  expect_torch_error(
      [] { parse(legacy_file("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 1001, false)); },
      Kind::unsupported, {"big-endian"});
  expect_torch_error(
      [] { parse(legacy_file("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 1001, true, true)); },
      Kind::unsupported, {"storage views"});
  expect_torch_error(
      [] { parse(legacy_file("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 1001, true, false, 7)); },
      Kind::malformed, {"holds 7 elements"});
  std::vector<uint8_t> tar(1024, 0);
  std::memcpy(tar.data() + 257, "ustar", 5);
  expect_torch_error([&] { parse(tar); }, Kind::unsupported, {"tar format"});
  expect_torch_error([] { parse({'{', '}'}); }, Kind::truncated, {"not a PyTorch checkpoint"});
}
