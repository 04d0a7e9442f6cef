// The restricted unpickler: an arena of objects, a stack machine over the
// opcodes a torch state dict uses, an allow-list of globals, and our own
// re-implementations of the few callables torch.save references.
// Opcode reference: CPython Lib/pickletools.py; torch side: torch/serialization.py
// (persistent ids) and torch/_utils.py (_rebuild_tensor_v2 and friends).
#include "models/torch_pickle.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <map>
#include <unordered_map>
#include <utility>

#include "models/torch_pickle_tables.h"

namespace vkcls {

namespace {

using Kind = TorchCheckpointError::Kind;
using torch_pickle::allowed_global;
using torch_pickle::AllowedGlobal;
using torch_pickle::Role;

// ---------------------------------------------------------------------------
// The object arena
// ---------------------------------------------------------------------------

struct Obj {
  // clang-format off
  enum class K : uint8_t { none, boolean, integer, big_integer, floating, string, bytes, tuple, list,
                           dict, global, storage, tensor };
  // clang-format on
  K kind = K::none;
  // boolean, integer: the value; global: index into the allow-list; storage / tensor: index into
  // Machine::storages / Machine::tensors
  int64_t i = 0;
  double f = 0;
  std::string s;                // string, bytes, big_integer (little-endian two's complement)
  std::vector<uint32_t> items;  // tuple, list; dict: key, value, key, value, ... (later keys win)
};

const char* kind_name(Obj::K k) {  // Python's names for them
  constexpr const char* names[] = {"None",  "bool", "int",  "int",    "float",   "str",   "bytes",
                                   "tuple", "list", "dict", "global", "storage", "tensor"};
  return names[size_t(k)];
}

// ---------------------------------------------------------------------------
// The machine
// ---------------------------------------------------------------------------

class Machine {
 public:
  Machine(const uint8_t* bytes, size_t size, const std::string& where, const PickleLimits& limits,
          bool persistent_ids)
      : p_(bytes), size_(size), where_(where), limits_(limits), persistent_ids_(persistent_ids) {
    objs_.resize(3);  // shared None, False, True
    objs_[1].kind = objs_[2].kind = Obj::K::boolean;
    objs_[2].i = 1;
  }

  uint32_t run();  // until STOP; returns the object STOP popped
  size_t position() const { return pos_; }
  const Obj& obj(uint32_t id) const { return objs_[id]; }
  std::vector<PickledStorage> storages;
  std::vector<PickledTensor> tensors;  // unnamed; Obj::i of a tensor object indexes here

  TorchCheckpointError fail(Kind k, const std::string& what) const {
    return TorchCheckpointError(
        k, fmt::format("invalid PyTorch pickle in {} (opcode {} at byte {}): {}", where_,
                       op_name_ ? op_name_ : "?", op_pos_, what));
  }

 private:
  // Reading the program.
  const uint8_t* take(uint64_t n) {
    if (n > size_ - pos_)
      throw fail(Kind::truncated, fmt::format("needs {} more bytes, {} remain", n, size_ - pos_));
    const uint8_t* r = p_ + pos_;
    pos_ += size_t(n);
    return r;
  }
  uint64_t read_le(int n) {
    const uint8_t* b = take(uint64_t(n));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | b[i];
    return v;
  }
  std::string read_line(size_t max) {  // GLOBAL's "module\n" and "name\n"
    for (size_t i = pos_; i < size_ && i - pos_ <= max; i++) {
      if (p_[i] == '\n') {
        std::string s(reinterpret_cast<const char*>(p_ + pos_), i - pos_);
        pos_ = i + 1;
        return s;
      }
    }
    throw fail(Kind::truncated, fmt::format("no newline within {} bytes", max));
  }

  // The arena, the stack and the memo.
  uint32_t make(Obj o) {
    if (objs_.size() >= limits_.max_objects)
      throw fail(Kind::limit, fmt::format("more than {} objects (PickleLimits::max_objects)",
                                          limits_.max_objects));
    objs_.push_back(std::move(o));
    return uint32_t(objs_.size() - 1);
  }
  uint32_t make(Obj::K k) {
    Obj o;
    o.kind = k;
    return make(std::move(o));
  }
  void count_items(size_t n) {
    items_ += n;
    if (items_ > limits_.max_items)
      throw fail(Kind::limit, fmt::format("more than {} container items (PickleLimits::max_items)",
                                          limits_.max_items));
  }
  void push(uint32_t id) {
    if (stack_.size() + marks_.size() >= limits_.max_stack)
      throw fail(Kind::limit,
                 fmt::format("stack deeper than {} (PickleLimits::max_stack)", limits_.max_stack));
    stack_.push_back(id);
  }
  size_t floor() const {
    return marks_.empty() ? 0 : marks_.back();
  }  // items below the last MARK are out of reach
  uint32_t pop() {
    if (stack_.size() <= floor()) throw fail(Kind::malformed, "stack underflow");
    uint32_t id = stack_.back();
    stack_.pop_back();
    return id;
  }
  uint32_t top() const {
    if (stack_.size() <= floor()) throw fail(Kind::malformed, "stack underflow");
    return stack_.back();
  }
  std::vector<uint32_t> pop_mark() {  // the items pushed since the last MARK, and the MARK
    if (marks_.empty()) throw fail(Kind::malformed, "no MARK on the stack");
    std::vector<uint32_t> items(stack_.begin() + std::ptrdiff_t(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  void memo_put(uint64_t index) {
    uint32_t id = top();
    if (memo_.size() >= limits_.max_memo && !memo_.count(index))
      throw fail(Kind::limit, fmt::format("more than {} memo entries (PickleLimits::max_memo)",
                                          limits_.max_memo));
    memo_[index] = id;
  }
  void memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end())
      throw fail(Kind::malformed, fmt::format("memo index {} was never stored", index));
    push(it->second);
  }

  Obj& container(uint32_t id, Obj::K want) {
    Obj& o = objs_[id];
    if (o.kind != want)
      throw fail(Kind::malformed,
                 fmt::format("expected a {}, found a {}", kind_name(want), kind_name(o.kind)));
    return o;
  }
  uint32_t make_seq(Obj::K k, std::vector<uint32_t> items) {
    count_items(items.size());
    Obj o;
    o.kind = k;
    o.items = std::move(items);
    return make(std::move(o));
  }
  uint32_t make_text(Obj::K k, uint64_t n) {
    const uint8_t* b = take(n);
    Obj o;
    o.kind = k;
    o.s.assign(reinterpret_cast<const char*>(b), size_t(n));
    return make(std::move(o));
  }
  uint32_t make_long(uint64_t n);
  uint32_t resolve_global(const std::string& module, const std::string& name);
  uint32_t reduce(uint32_t callable, uint32_t args);
  uint32_t persistent_load(uint32_t pid);
  uint32_t rebuild_tensor(const AllowedGlobal& fn, const std::vector<uint32_t>& a);

  // Typed reads of arguments.
  const Obj& arg(const std::vector<uint32_t>& a, size_t i) const { return objs_[a[i]]; }
  int64_t as_int(uint32_t id, const char* what) const {
    const Obj& o = objs_[id];
    if (o.kind != Obj::K::integer && o.kind != Obj::K::boolean)
      throw fail(Kind::malformed,
                 fmt::format("{} must be an int, found a {}", what, kind_name(o.kind)));
    return o.i;
  }
  std::vector<int64_t> as_int_tuple(uint32_t id, const char* what) const {
    const Obj& o = objs_[id];
    if (o.kind != Obj::K::tuple && o.kind != Obj::K::list)
      throw fail(Kind::malformed,
                 fmt::format("{} must be a tuple of ints, found a {}", what, kind_name(o.kind)));
    if (o.items.size() > limits_.max_rank)
      throw fail(Kind::limit,
                 fmt::format("{} has {} dimensions, more than {} (PickleLimits::max_rank)", what,
                             o.items.size(), limits_.max_rank));
    std::vector<int64_t> v;
    for (uint32_t it : o.items) v.push_back(as_int(it, what));
    return v;
  }

  const uint8_t* p_;
  size_t size_;
  size_t pos_ = 0;
  std::string where_;
  PickleLimits limits_;
  bool persistent_ids_;
  const char* op_name_ = nullptr;
  size_t op_pos_ = 0;

  std::vector<Obj> objs_;
  std::vector<uint32_t> stack_;
  std::vector<size_t> marks_;  // stack heights at each MARK
  std::unordered_map<uint64_t, uint32_t> memo_;
  std::map<std::string, size_t> storage_by_key_;
  std::vector<size_t> storage_types_;  // allow-list index of each storage's type
  size_t items_ = 0;
};

uint32_t Machine::make_long(uint64_t n) {  // LONG1 / LONG4: n bytes, little-endian two's complement
  if (n > 256)
    throw fail(Kind::limit, fmt::format("integer of {} bytes (at most 256 are read)", n));
  const uint8_t* b = take(n);
  if (n > 8) {
    Obj o;
    o.kind = Obj::K::big_integer;
    o.s.assign(reinterpret_cast<const char*>(b), size_t(n));
    return make(std::move(o));
  }
  uint64_t v = 0;
  for (uint64_t i = n; i-- > 0;) v = v << 8 | b[i];
  if (n > 0 && n < 8 && (b[n - 1] & 0x80)) v |= ~uint64_t(0) << (8 * n);  // sign-extend
  Obj o;
  o.kind = Obj::K::integer;
  o.i = int64_t(v);
  return make(std::move(o));
}

uint32_t Machine::resolve_global(const std::string& module, const std::string& name) {
  const AllowedGlobal* g = torch_pickle::find_allowed_global(module, name);
  if (!g) {
    if (torch_pickle::is_known_unsupported_global(module, name))
      throw fail(Kind::unsupported,
                 fmt::format("global {}.{} is a PyTorch type vkcls does not read (only dense "
                             "tensors of plain dtypes are supported)",
                             module, name));
    throw fail(
        Kind::forbidden_global,
        fmt::format(
            "refused to load global {}.{}: only the tensor-rebuilding globals of a state dict are "
            "allowed, and nothing in the file was executed (the file may be malicious)",
            module, name));
  }
  Obj o;
  o.kind = Obj::K::global;
  o.i = int64_t(torch_pickle::allowed_global_index(*g));
  return make(std::move(o));
}

uint32_t Machine::reduce(uint32_t callable, uint32_t args_id) {
  const Obj& c = objs_[callable];
  if (c.kind != Obj::K::global)
    throw fail(Kind::malformed,
               fmt::format("REDUCE calls a {}, not an allowed global", kind_name(c.kind)));
  const AllowedGlobal& g = allowed_global(size_t(c.i));
  const Obj& args = objs_[args_id];
  if (args.kind != Obj::K::tuple)
    throw fail(Kind::malformed, fmt::format("REDUCE arguments are a {}", kind_name(args.kind)));
  const std::vector<uint32_t> a = args.items;  // copy: making objects may move the arena
  switch (g.role) {
    case Role::ordered_dict:
      if (!a.empty()) throw fail(Kind::unsupported, "OrderedDict(...) with arguments");
      return make(Obj::K::dict);
    case Role::rebuild_tensor:
    case Role::rebuild_tensor_v2:
    case Role::rebuild_tensor_v3:
      return rebuild_tensor(g, a);
    case Role::rebuild_parameter:  // (data, requires_grad, backward_hooks[, state]) -> data
      if (a.size() < 3 || a.size() > 4 || arg(a, 0).kind != Obj::K::tensor)
        throw fail(Kind::malformed,
                   fmt::format("{}.{} expects (tensor, requires_grad, backward_hooks[, state])",
                               g.module, g.name));
      return a[0];
    case Role::storage_type:
    case Role::dtype:
      break;
  }
  throw fail(Kind::malformed, fmt::format("global {}.{} is not callable here", g.module, g.name));
}

// _rebuild_tensor(storage, storage_offset, size, stride)
// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[,
// metadata]) _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad,
// backward_hooks, dtype[, metadata])
uint32_t Machine::rebuild_tensor(const AllowedGlobal& fn, const std::vector<uint32_t>& a) {
  size_t lo = fn.role == Role::rebuild_tensor ? 4 : fn.role == Role::rebuild_tensor_v2 ? 6 : 7;
  size_t hi = fn.role == Role::rebuild_tensor ? 4 : lo + 1;
  if (a.size() < lo || a.size() > hi)
    throw fail(Kind::malformed, fmt::format("{}.{} takes {} to {} arguments, got {}", fn.module,
                                            fn.name, lo, hi, a.size()));
  if (arg(a, 0).kind != Obj::K::storage)
    throw fail(Kind::malformed, fmt::format("{}.{}: argument 0 is a {}, not a storage", fn.module,
                                            fn.name, kind_name(arg(a, 0).kind)));
  const PickledStorage& st = storages[size_t(arg(a, 0).i)];
  const AllowedGlobal* type = &allowed_global(storage_types_[size_t(arg(a, 0).i)]);
  PickledTensor t;
  t.storage = size_t(arg(a, 0).i);
  if (fn.role == Role::rebuild_tensor_v3) {
    const Obj& d = arg(a, 6);
    if (d.kind != Obj::K::global || allowed_global(size_t(d.i)).role != Role::dtype)
      throw fail(Kind::malformed, "_rebuild_tensor_v3: argument 6 is not a torch dtype");
    type = &allowed_global(size_t(d.i));
  } else if (type->dtype_name[0] == '\0') {
    throw fail(Kind::malformed, fmt::format("{}.{} on an untyped storage", fn.module, fn.name));
  }
  t.dtype = type->dtype;
  t.dtype_name = type->dtype_name;
  t.element_size = type->element_size;
  int64_t offset = as_int(a[1], "storage_offset");
  t.sizes = as_int_tuple(a[2], "size");
  t.strides = as_int_tuple(a[3], "stride");
  if (offset < 0) throw fail(Kind::malformed, fmt::format("storage_offset {} is negative", offset));
  if (t.sizes.size() != t.strides.size())
    throw fail(Kind::malformed, fmt::format("size has {} dimensions but stride has {}",
                                            t.sizes.size(), t.strides.size()));
  t.storage_offset = uint64_t(offset);

  // The furthest element the view touches must lie inside the storage.
  uint64_t numel = 1, last = t.storage_offset;
  for (size_t i = 0; i < t.sizes.size(); i++) {
    if (t.sizes[i] < 0 || t.strides[i] < 0)
      throw fail(Kind::malformed, fmt::format("size {} / stride {} in dimension {} is negative",
                                              t.sizes[i], t.strides[i], i));
    if (__builtin_mul_overflow(numel, uint64_t(t.sizes[i]), &numel) || numel > (uint64_t(1) << 62))
      throw fail(Kind::limit, "tensor size overflows");
  }
  uint64_t storage_elems = st.nbytes() / t.element_size;
  if (numel > 0) {
    for (size_t i = 0; i < t.sizes.size(); i++) {
      uint64_t reach;
      if (__builtin_mul_overflow(uint64_t(t.sizes[i] - 1), uint64_t(t.strides[i]), &reach) ||
          __builtin_add_overflow(last, reach, &last))
        throw fail(Kind::malformed, "tensor extent overflows");
    }
    if (last >= storage_elems)
      throw fail(
          Kind::malformed,
          fmt::format("tensor view (offset {}, size [{}], stride [{}]) reaches element {} of "
                      "storage '{}', which holds {} elements of {}",
                      t.storage_offset, fmt::join(t.sizes, ", "), fmt::join(t.strides, ", "), last,
                      st.key, storage_elems, t.dtype_name));
  } else if (t.storage_offset > storage_elems) {
    throw fail(Kind::malformed,
               fmt::format(
                   "empty tensor's storage_offset {} is past the end of storage '{}' ({} elements)",
                   t.storage_offset, st.key, storage_elems));
  }
  tensors.push_back(std::move(t));
  Obj o;
  o.kind = Obj::K::tensor;
  o.i = int64_t(tensors.size() - 1);
  return make(std::move(o));
}

// ('storage', <storage type>, key, location, numel[, view_metadata]); the sixth item is the
// legacy format's, and only None (no storage view) is supported.
uint32_t Machine::persistent_load(uint32_t pid_id) {
  if (!persistent_ids_) throw fail(Kind::malformed, "a persistent id where plain data is expected");
  const Obj& pid = objs_[pid_id];
  if (pid.kind != Obj::K::tuple || pid.items.size() < 5 || pid.items.size() > 6 ||
      objs_[pid.items[0]].kind != Obj::K::string || objs_[pid.items[0]].s != "storage")
    throw fail(Kind::malformed, "persistent id is not ('storage', type, key, location, numel)");
  const Obj& type = objs_[pid.items[1]];
  const Obj& key = objs_[pid.items[2]];
  if (type.kind != Obj::K::global || allowed_global(size_t(type.i)).role != Role::storage_type)
    throw fail(Kind::malformed, "persistent id: item 1 is not a storage type");
  if (key.kind != Obj::K::string)
    throw fail(Kind::malformed, "persistent id: the storage key is not a string");
  if (objs_[pid.items[3]].kind != Obj::K::string)
    throw fail(Kind::malformed, "persistent id: the location is not a string");
  int64_t numel = as_int(pid.items[4], "storage numel");
  if (pid.items.size() == 6 && objs_[pid.items[5]].kind != Obj::K::none)
    throw fail(Kind::unsupported, "legacy storage views (PyTorch < 0.4) are not supported");
  const AllowedGlobal& g = allowed_global(size_t(type.i));
  uint64_t nbytes;
  if (numel < 0 || __builtin_mul_overflow(uint64_t(numel), uint64_t(g.element_size), &nbytes) ||
      nbytes > (uint64_t(1) << 62))
    throw fail(Kind::malformed,
               fmt::format("storage '{}' has an impossible numel {}", key.s, numel));

  auto it = storage_by_key_.find(key.s);
  size_t index;
  if (it != storage_by_key_.end()) {  // the same storage again (tied weights): must agree
    index = it->second;
    const PickledStorage& s = storages[index];
    if (s.nbytes() != nbytes || storage_types_[index] != size_t(type.i))
      throw fail(Kind::malformed,
                 fmt::format("storage '{}' is named twice with different types or sizes", key.s));
  } else {
    storages.push_back(PickledStorage{key.s, std::string(g.module) + "." + g.name, g.element_size,
                                      uint64_t(numel)});
    index = storages.size() - 1;
    storage_by_key_.emplace(key.s, index);
    storage_types_.push_back(size_t(type.i));
  }
  Obj o;
  o.kind = Obj::K::storage;
  o.i = int64_t(index);
  return make(std::move(o));
}

uint32_t Machine::run() {
  while (true) {
    op_pos_ = pos_;
    op_name_ = nullptr;
    uint8_t op = *take(1);
    op_name_ = torch_pickle::opcode_name(op);
    if (!op_name_) {
      op_name_ = "?";
      throw fail(Kind::malformed, fmt::format("unknown opcode 0x{:02x}", op));
    }
    switch (op) {
      case 0x80: {  // PROTO
        uint8_t v = *take(1);
        if (v > 5)
          throw fail(Kind::unsupported, fmt::format("pickle protocol {} (at most 5 is known)", v));
        break;
      }
      case 0x95: {  // FRAME: a length hint
        uint64_t n = read_le(8);
        if (n > size_ - pos_)
          throw fail(Kind::truncated, fmt::format("frame of {} bytes, {} remain", n, size_ - pos_));
        break;
      }
      case '.':  // STOP
        return pop();
      case '(':  // MARK
        if (stack_.size() + marks_.size() >= limits_.max_stack)
          throw fail(Kind::limit, fmt::format("stack deeper than {} (PickleLimits::max_stack)",
                                              limits_.max_stack));
        marks_.push_back(stack_.size());
        break;
      case '0':
        pop();
        break;
      case '1':
        pop_mark();
        break;
      case '2':
        push(top());
        break;
      case 'N':
        push(0);
        break;
      case 0x89:
        push(1);
        break;  // NEWFALSE
      case 0x88:
        push(2);
        break;     // NEWTRUE
      case 'J': {  // BININT: signed 32-bit
        Obj o;
        o.kind = Obj::K::integer;
        o.i = int32_t(uint32_t(read_le(4)));
        push(make(std::move(o)));
        break;
      }
      case 'K':    // BININT1
      case 'M': {  // BININT2
        Obj o;
        o.kind = Obj::K::integer;
        o.i = int64_t(read_le(op == 'K' ? 1 : 2));
        push(make(std::move(o)));
        break;
      }
      case 0x8a:
        push(make_long(read_le(1)));
        break;      // LONG1
      case 0x8b: {  // LONG4 (a signed length)
        int64_t n = int32_t(uint32_t(read_le(4)));
        if (n < 0) throw fail(Kind::malformed, "negative LONG4 length");
        push(make_long(uint64_t(n)));
        break;
      }
      case 'G': {  // BINFLOAT: big-endian double
        const uint8_t* b = take(8);
        uint64_t v = 0;
        for (int i = 0; i < 8; i++) v = v << 8 | b[i];
        Obj o;
        o.kind = Obj::K::floating;
        std::memcpy(&o.f, &v, 8);
        push(make(std::move(o)));
        break;
      }
      case 'X':
        push(make_text(Obj::K::string, read_le(4)));
        break;  // BINUNICODE
      case 0x8c:
        push(make_text(Obj::K::string, read_le(1)));
        break;  // SHORT_BINUNICODE
      case 0x8d:
        push(make_text(Obj::K::string, read_le(8)));
        break;  // BINUNICODE8
      case 'U':
        push(make_text(Obj::K::string, read_le(1)));
        break;     // SHORT_BINSTRING (Python 2 str)
      case 'T': {  // BINSTRING: signed length
        int64_t n = int32_t(uint32_t(read_le(4)));
        if (n < 0) throw fail(Kind::malformed, "negative BINSTRING length");
        push(make_text(Obj::K::string, uint64_t(n)));
        break;
      }
      case 'B':
        push(make_text(Obj::K::bytes, read_le(4)));
        break;  // BINBYTES
      case 'C':
        push(make_text(Obj::K::bytes, read_le(1)));
        break;  // SHORT_BINBYTES
      case 0x8e:
        push(make_text(Obj::K::bytes, read_le(8)));
        break;  // BINBYTES8
      case ')':
        push(make_seq(Obj::K::tuple, {}));
        break;  // EMPTY_TUPLE
      case 't':
        push(make_seq(Obj::K::tuple, pop_mark()));
        break;      // TUPLE
      case 0x85:    // TUPLE1
      case 0x86:    // TUPLE2
      case 0x87: {  // TUPLE3
        size_t n = size_t(op - 0x84);
        std::vector<uint32_t> items(n);
        for (size_t i = n; i-- > 0;) items[i] = pop();
        push(make_seq(Obj::K::tuple, std::move(items)));
        break;
      }
      case ']':
        push(make_seq(Obj::K::list, {}));
        break;  // EMPTY_LIST
      case 'l':
        push(make_seq(Obj::K::list, pop_mark()));
        break;     // LIST
      case 'a': {  // APPEND
        uint32_t v = pop();
        count_items(1);
        container(top(), Obj::K::list).items.push_back(v);
        break;
      }
      case 'e': {  // APPENDS
        std::vector<uint32_t> items = pop_mark();
        count_items(items.size());
        Obj& l = container(top(), Obj::K::list);
        l.items.insert(l.items.end(), items.begin(), items.end());
        break;
      }
      case '}':
        push(make_seq(Obj::K::dict, {}));
        break;     // EMPTY_DICT
      case 'd': {  // DICT
        std::vector<uint32_t> items = pop_mark();
        if (items.size() % 2) throw fail(Kind::malformed, "odd number of items for a dict");
        push(make_seq(Obj::K::dict, std::move(items)));
        break;
      }
      case 's': {  // SETITEM
        uint32_t v = pop(), k = pop();
        count_items(2);
        Obj& d = container(top(), Obj::K::dict);
        d.items.push_back(k);
        d.items.push_back(v);
        break;
      }
      case 'u': {  // SETITEMS
        std::vector<uint32_t> items = pop_mark();
        if (items.size() % 2) throw fail(Kind::malformed, "odd number of items for SETITEMS");
        count_items(items.size());
        Obj& d = container(top(), Obj::K::dict);
        d.items.insert(d.items.end(), items.begin(), items.end());
        break;
      }
      case 'c': {  // GLOBAL "module\nname\n"
        std::string module = read_line(256);
        std::string name = read_line(256);
        push(resolve_global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        uint32_t name = pop(), module = pop();
        if (objs_[name].kind != Obj::K::string || objs_[module].kind != Obj::K::string)
          throw fail(Kind::malformed, "STACK_GLOBAL needs two strings");
        push(resolve_global(objs_[module].s, objs_[name].s));
        break;
      }
      case 'R': {  // REDUCE
        uint32_t args = pop(), callable = pop();
        push(reduce(callable, args));
        break;
      }
      case 'b': {  // BUILD: set state; only an OrderedDict's (state_dict()._metadata) is seen, and
                   // dropped
        pop();
        const Obj& o = objs_[top()];
        if (o.kind != Obj::K::dict && o.kind != Obj::K::tensor)
          throw fail(Kind::unsupported, fmt::format("BUILD on a {}", kind_name(o.kind)));
        break;
      }
      case 'Q':
        push(persistent_load(pop()));
        break;  // BINPERSID
      case 'q':
        memo_put(read_le(1));
        break;  // BINPUT
      case 'r':
        memo_put(read_le(4));
        break;  // LONG_BINPUT
      case 0x94:
        memo_put(memo_.size());
        break;  // MEMOIZE
      case 'h':
        memo_get(read_le(1));
        break;  // BINGET
      case 'j':
        memo_get(read_le(4));
        break;  // LONG_BINGET
      default:
        throw fail(
            Kind::unsupported,
            fmt::format("opcode {} is not used by torch.save state dicts and is not supported",
                        op_name_));
    }
  }
}

// The arena object as a tree. Shared and self-referencing objects are copied each time they are
// reached, so the copy is bounded both in depth and in total nodes (`budget`).
PickleValue to_value(const Machine& m, uint32_t id, int depth, size_t& budget) {
  if (budget == 0)
    throw m.fail(Kind::limit, "the value expands to more than PickleLimits::max_value_nodes nodes");
  budget--;
  const Obj& o = m.obj(id);
  PickleValue v;
  using VK = PickleValue::Kind;
  switch (o.kind) {
    case Obj::K::none:
      v.kind = VK::none;
      break;
    case Obj::K::boolean:
      v.kind = VK::boolean, v.integer = o.i;
      break;
    case Obj::K::integer:
      v.kind = VK::integer, v.integer = o.i;
      break;
    case Obj::K::big_integer:
      v.kind = VK::big_integer, v.text = o.s;
      break;
    case Obj::K::floating:
      v.kind = VK::floating;
      break;
    case Obj::K::string:
      v.kind = VK::string, v.text = o.s;
      break;
    case Obj::K::bytes:
      v.kind = VK::bytes, v.text = o.s;
      break;
    case Obj::K::tuple:
    case Obj::K::list:
    case Obj::K::dict:
      v.kind = o.kind == Obj::K::tuple ? VK::tuple : o.kind == Obj::K::list ? VK::list : VK::dict;
      if (depth <= 0) {
        v.kind = VK::other;
        break;
      }
      for (uint32_t it : o.items) v.items.push_back(to_value(m, it, depth - 1, budget));
      break;
    default:
      v.kind = VK::other;
  }
  return v;
}

}  // namespace

const char* torch_error_kind_name(TorchCheckpointError::Kind k) {
  switch (k) {
    case Kind::truncated:
      return "truncated";
    case Kind::malformed:
      return "malformed";
    case Kind::unsupported:
      return "unsupported";
    case Kind::forbidden_global:
      return "forbidden_global";
    case Kind::limit:
      return "limit";
  }
  return "?";
}

bool PickledTensor::contiguous() const {
  int64_t expect = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    if (sizes[i] == 0) return true;  // empty: nothing to lay out
    if (sizes[i] != 1 && strides[i] != expect) return false;
    expect *= sizes[i];
  }
  return true;
}

PickledStateDict torch_unpickle_state_dict(const uint8_t* bytes, size_t size,
                                           const std::string& where, size_t* consumed,
                                           const PickleLimits& limits) {
  Machine m(bytes, size, where, limits, /*persistent_ids=*/true);
  uint32_t root = m.run();
  if (consumed) *consumed = m.position();
  const Obj& d = m.obj(root);
  if (d.kind != Obj::K::dict)
    throw m.fail(Kind::unsupported,
                 fmt::format("the checkpoint holds a {}, not a state dict (a dict of tensors)",
                             kind_name(d.kind)));

  PickledStateDict out;
  std::map<std::string, size_t> by_name;  // later keys win, as in a Python dict
  size_t dims = 0;
  std::vector<std::string> other_keys;
  for (size_t i = 0; i + 1 < d.items.size(); i += 2) {
    const Obj& k = m.obj(d.items[i]);
    const Obj& v = m.obj(d.items[i + 1]);
    if (k.kind != Obj::K::string)
      throw m.fail(Kind::malformed,
                   fmt::format("state dict key is a {}, not a str", kind_name(k.kind)));
    if (v.kind != Obj::K::tensor) {
      if (other_keys.size() < 8) other_keys.push_back(k.s);
      continue;
    }
    PickledTensor t = m.tensors[size_t(v.i)];
    t.name = k.s;
    auto it = by_name.find(k.s);
    if (it != by_name.end()) {
      out.tensors[it->second] = std::move(t);
      continue;
    }
    // One tensor object may be named many times (a memo reference each): bound the copies.
    dims += t.sizes.size() + 1;
    if (out.tensors.size() >= limits.max_tensors || dims > limits.max_total_dims)
      throw m.fail(Kind::limit,
                   fmt::format("the state dict names more than {} tensors or {} dimensions in all "
                               "(PickleLimits::max_tensors, max_total_dims)",
                               limits.max_tensors, limits.max_total_dims));
    by_name.emplace(k.s, out.tensors.size());
    out.tensors.push_back(std::move(t));
  }
  if (out.tensors.empty())
    throw m.fail(Kind::unsupported,
                 fmt::format("the top-level dict holds no tensors (keys: {}); a nested checkpoint "
                             "(e.g. {{'state_dict': ...}}) is not a model state dict",
                             fmt::join(other_keys, ", ")));
  out.storages = std::move(m.storages);
  return out;
}

PickleValue torch_unpickle_value(const uint8_t* bytes, size_t size, const std::string& where,
                                 size_t* consumed, const PickleLimits& limits, int max_depth) {
  Machine m(bytes, size, where, limits, /*persistent_ids=*/false);
  uint32_t root = m.run();
  if (consumed) *consumed = m.position();
  size_t budget = limits.max_value_nodes;
  return to_value(m, root, max_depth, budget);
}

}  // namespace vkcls
