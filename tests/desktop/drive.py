#!/usr/bin/env python3
"""Drives vkcls-desktop as a user would, on a virtual X server, and reads it back through the
accessibility tree (AT-SPI), as a screen reader does.

  Xvfb (-displayfd: ready when it writes its display number)
  vkcls-desktop MODEL        xdotool types into its window; AT-SPI reads the entry, the result
                             label ("positive (0.998)") and the status line ("classified in ...")
  screenshots                the root window through GDK, saved as PNG in ARTIFACTS

Run inside a D-Bus session (dbus-run-session): the AT-SPI bus is started by it on demand.
Every wait polls a condition with a bounded timeout; nothing waits a fixed time.

usage: drive.py APP MODEL_DIR ARTIFACTS_DIR
"""
import os
import re
import select
import struct
import subprocess
import sys
import time

import gi

gi.require_version("Atspi", "2.0")
gi.require_version("Gdk", "3.0")
gi.require_version("GdkPixbuf", "2.0")
from gi.repository import Atspi, GLib  # noqa: E402

TIMEOUT = 60.0  # seconds, for every condition below
POSITIVE = "I love this wonderful film"
NEGATIVE = "This film was a dreadful waste of time"
# "label (score)", the score printed with three decimals
RESULT_RE = re.compile(r"^(\w+) \(([01]\.\d{3})\)$")


def log(*args):
    print("desktop:", *args, flush=True)


def fail(msg):
    raise SystemExit(f"desktop: FAIL: {msg}")


def wait_for(what, cond, timeout=TIMEOUT, interval=0.05):
    """Polls cond() until it returns a true value (returned) or timeout seconds pass (fail)."""
    deadline = time.monotonic() + timeout
    last, error = None, None
    while time.monotonic() < deadline:
        try:
            last = cond()
        except GLib.Error as e:  # e.g. the app's accessible side is still starting
            last, error = None, e
        if last:
            return last
        time.sleep(interval)
    fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r}, error: {error})")


def start_xvfb():
    r, w = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "800x600x24",
                             "-nolisten", "tcp", "-noreset"], pass_fds=(w,))
    os.close(w)
    # Xvfb writes the number and then "\n" in two writes: read up to the newline, or closing
    # the pipe early fails its second write (and the server)
    got, deadline = b"", time.monotonic() + TIMEOUT
    while not got.endswith(b"\n"):
        ready, _, _ = select.select([r], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(r, 64) if ready else b""
        if not chunk:
            xvfb.kill()
            fail(f"Xvfb did not report a display (got {got!r})")
        got += chunk
    os.close(r)
    display = got.decode().strip()
    if not display.isdigit():
        xvfb.kill()
        fail(f"Xvfb reported {display!r}")
    return xvfb, ":" + display


def xdotool(*args):
    out = subprocess.run(["xdotool", *args], check=True, capture_output=True, text=True,
                         timeout=TIMEOUT)
    return out.stdout.strip()


# ---- AT-SPI ------------------------------------------------------------------------------

def text_of(acc):
    """The widget's text through AT-SPI's Text interface (asked of the app each time: the
    accessible's name may be a cached copy)."""
    return Atspi.Text.get_text(acc, 0, Atspi.Text.get_character_count(acc))


def find_app(pid):
    desktop = Atspi.get_desktop(0)
    for i in range(desktop.get_child_count()):
        app = desktop.get_child_at_index(i)
        if app is not None and app.get_process_id() == pid:
            return app
    return None


def find_described(root, descriptions):
    """{description: accessible} for the descriptions main.c gives its widgets."""
    found, stack = {}, [root]
    while stack:
        acc = stack.pop()
        d = acc.get_description()
        if d in descriptions:
            found[d] = acc
        stack.extend(acc.get_child_at_index(i) for i in range(acc.get_child_count()))
    return found if len(found) == len(descriptions) else None


class Window:
    """One running vkcls-desktop, its X window and its accessible widgets."""

    def __init__(self, app_path, model, log_path, windows):
        self.log_path = log_path
        with open(log_path, "w") as logfile:
            self.proc = subprocess.Popen([app_path, model], stdout=logfile,
                                         stderr=subprocess.STDOUT)
        windows.append(self)  # killed at the end whatever happens next
        # the X window (xdotool --sync polls for it; bounded by xdotool()'s timeout)
        self.wid = xdotool("search", "--sync", "--onlyvisible", "--pid", str(self.proc.pid),
                           "--name", "^vkcls desktop$").split()[0]
        app = wait_for("the app on the AT-SPI bus", lambda: find_app(self.proc.pid))
        w = wait_for("its entry and labels in the accessibility tree",
                     lambda: find_described(app, {"text to classify", "classification",
                                                  "status"}))
        self.entry, self.result, self.status = (w["text to classify"], w["classification"],
                                                w["status"])
        log(f"window {self.wid}, pid {self.proc.pid}, status {text_of(self.status)!r}")

    def type(self, text):
        xdotool("windowfocus", "--sync", self.wid)
        xdotool("type", "--delay", "25", text)

    def classified(self, text):
        """The result label once it is for `text`. Read in this order: the entry's text, then
        the status, then the label. The UI sets "classifying ..." in the same main-loop step
        that changes the entry, and the status and the label together when the result for the
        entry's newest text arrives; so "classified" read after the entry showed `text` means
        the label is for `text`, not for a prefix of it."""
        def ready():
            if text_of(self.entry) != text:
                return None
            if not text_of(self.status).startswith("classified in "):
                return None
            return (text_of(self.result), text_of(self.status))
        return wait_for(f"the label for {text!r}", ready)

    def quit(self):
        xdotool("windowfocus", "--sync", self.wid)
        xdotool("key", "ctrl+q")
        try:
            rc = self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("the app did not quit on Ctrl+Q")
        if rc != 0:
            fail(f"the app exited with status {rc} (70: Vulkan validation errors; see the log)")


# ---- screenshots ---------------------------------------------------------------------------

def screenshot(path):
    """The whole screen as PNG; checks it is a PNG of the screen's size that shows more than one
    colour (the window and its text were drawn)."""
    from gi.repository import Gdk
    root = Gdk.get_default_root_window()
    w, h = root.get_width(), root.get_height()
    pixbuf = Gdk.pixbuf_get_from_window(root, 0, 0, w, h)
    if pixbuf is None:
        fail("could not read the screen")
    pixbuf.savev(path, "png", [], [])
    data = open(path, "rb").read()
    if len(data) < 100 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        fail(f"{path} is not a PNG")
    pw, ph = struct.unpack(">II", data[16:24])
    pixels = pixbuf.get_pixels()
    stride, n = pixbuf.get_rowstride(), pixbuf.get_n_channels()
    colours = {pixels[y * stride + x * n: y * stride + x * n + 3]
               for y in range(0, h, 2) for x in range(0, w, 2)}
    if (pw, ph) != (w, h) or len(colours) < 8:
        fail(f"{path}: {pw}x{ph}, {len(colours)} colours: the window was not drawn")
    log(f"screenshot {path}: {len(data)} bytes, {pw}x{ph}, {len(colours)} colours")


def check_label(got, want):
    m = RESULT_RE.match(got)
    if not m:
        fail(f"the label reads {got!r}, not 'LABEL (SCORE)'")
    if m.group(1) != want:
        fail(f"the label reads {got!r}; expected {want!r}")
    if float(m.group(2)) < 0.5:
        fail(f"the label reads {got!r}: the argmax of two classes scores at least 0.5")


def check_sentences(app_path, model, artifacts, windows):
    """The default model: a positive sentence, then (cleared and retyped) a negative one."""
    win = Window(app_path, model, os.path.join(artifacts, "app.log"), windows)
    t0 = time.monotonic()
    win.type(POSITIVE)
    label, status = win.classified(POSITIVE)
    log(f"{POSITIVE!r} -> {label!r} ({status}; {time.monotonic() - t0:.1f} s from typing)")
    check_label(label, "positive")
    screenshot(os.path.join(artifacts, "desktop-positive.png"))

    xdotool("windowfocus", "--sync", win.wid)
    xdotool("key", "ctrl+a", "BackSpace")
    wait_for("the entry and the label to clear",
             lambda: text_of(win.entry) == "" and text_of(win.result) == "")
    win.type(NEGATIVE)
    label, status = win.classified(NEGATIVE)
    log(f"{NEGATIVE!r} -> {label!r} ({status})")
    check_label(label, "negative")
    screenshot(os.path.join(artifacts, "desktop-negative.png"))
    win.quit()
    summary = open(win.log_path).read().strip().splitlines()
    log("app:", summary[-1] if summary else "(no output)")


def check_missing_model(app_path, artifacts, windows):
    """A model folder that does not exist: the error is in the label, the app keeps running."""
    missing = os.path.join(artifacts, "no-such-model")
    win = Window(app_path, missing, os.path.join(artifacts, "app-error.log"), windows)

    def error_shown():
        t = text_of(win.result)
        return t if t.startswith("Error: ") else None
    got = wait_for("the error in the label", error_shown)
    log(f"missing model -> {got!r}")
    if missing not in got:
        fail(f"the error {got!r} does not name the folder {missing}")
    screenshot(os.path.join(artifacts, "desktop-error.png"))
    win.quit()


def main():
    app_path, model, artifacts = sys.argv[1:4]
    os.makedirs(artifacts, exist_ok=True)
    xvfb, display = start_xvfb()
    os.environ["DISPLAY"] = display
    log(f"Xvfb on {display}")
    windows = []
    try:
        check_sentences(app_path, model, artifacts, windows)
        check_missing_model(app_path, artifacts, windows)
        log("OK")
    except BaseException:
        for w in windows:  # what the app said, for the failure's log
            log(f"{w.log_path}:\n" + open(w.log_path).read()[-4000:])
        raise
    finally:
        for w in windows:
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait(TIMEOUT)
        xvfb.terminate()
        xvfb.wait(TIMEOUT)


if __name__ == "__main__":
    main()
