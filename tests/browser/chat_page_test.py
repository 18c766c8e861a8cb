#!/usr/bin/env python3
"""The chat page in a real browser: headless Chromium through Selenium, against the real
evchat binary with a chat (TCP) listener and a web listener on free loopback ports; then
the same over https/wss ([websocket] tls = true, a throwaway certificate made with the
openssl command), in a second Chromium that alone ignores certificate errors.

Usage: tests/browser/chat_page_test.py [EVCHAT_BIN]   (else $EVCHAT_BIN, else build/evchat)

Prints `PASS: browser CASE` or `FAIL: browser CASE: why` per case and exits 1 on any
failure. Without Chromium, chromedriver or Selenium (installed as root when missing) it
prints one `SKIPPED: browser tests (...)` line and exits 0. Every wait has a deadline;
nothing sleeps to synchronise.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PACKAGES = {"chromium": CHROMIUM, "chromium-driver": CHROMEDRIVER, "python3-selenium": None}
SYSTEM_PYTHON = "/usr/bin/python3"
TIMEOUT = 10.0  # bound on waiting for one event


def have_selenium():
    try:
        import selenium  # noqa: F401
        return True
    except ImportError:
        return False


def missing_packages():
    missing = [p for p, path in PACKAGES.items() if path and not os.access(path, os.X_OK)]
    if not have_selenium():
        missing.append("python3-selenium")
    return missing


def ensure_dependencies():
    """Returns None when everything is there, else the reason for skipping."""
    # Debian's python3-selenium is for Debian's python3; another python3 first in PATH
    # (pyenv, a venv) does not see it, so run under Debian's instead.
    if not have_selenium() and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) \
            and os.access(SYSTEM_PYTHON, os.X_OK) and not os.environ.get("EVCHAT_BROWSER_REEXEC"):
        os.environ["EVCHAT_BROWSER_REEXEC"] = "1"
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    missing = missing_packages()
    if not missing:
        return None
    line = "apt-get install -y " + " ".join(missing)
    if os.geteuid() != 0:
        return "missing %s; as root: %s" % (", ".join(missing), line)
    print("installing: %s" % " ".join(missing), file=sys.stderr, flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    ok = subprocess.run(["apt-get", "update", "-qq"], env=env).returncode == 0 and subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing, env=env,
        stdout=sys.stderr).returncode == 0
    if "python3-selenium" in missing and not have_selenium():
        if ok and os.access(SYSTEM_PYTHON, os.X_OK) and not os.environ.get("EVCHAT_BROWSER_REEXEC"):
            os.environ["EVCHAT_BROWSER_REEXEC"] = "1"
            os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    still = missing_packages()
    if not still:
        return None
    return "missing %s, and %s failed" % (", ".join(still), line)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_connect(port, timeout=1.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def make_certificate(workdir):
    """A self-signed P-256 certificate for localhost and 127.0.0.1, valid for two days:
    returns the paths of its PEM certificate and key. Raises on failure."""
    cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
    try:
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-nodes", "-days", "2", "-subj", "/CN=localhost",
                            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError("openssl req: %s" % e) from None
    if r.returncode != 0:
        raise RuntimeError("openssl req exited %d: %s" % (r.returncode, r.stdout.decode(errors="replace")))
    return cert, key


class Server:
    """evchat on a chat port and a web port, with its config and log in workdir; extra is
    more TOML for the config (e.g. a [room] table); tls, a (cert, key) pair of PEM paths,
    serves the web port over TLS (https, wss)."""

    def __init__(self, binary, workdir, extra="", tls=None):
        self.binary = binary
        self.extra = extra
        self.tls = tls
        self.workdir = workdir
        self.proc = None
        self.chat_port = self.web_port = None
        self.log_path = os.path.join(workdir, "evchat.log")
        self.starts = 0

    def start(self, chat_port=None, web_port=None):
        """Starts on the given ports, or on free ones (other ones again if a port picked
        free was taken before evchat bound it). Raises on failure."""
        fixed = chat_port is not None
        cp, wp = chat_port, web_port
        for _ in range(1 if fixed else 5):
            cp = chat_port or free_port()
            wp = web_port or free_port()
            if cp == wp:
                continue
            if self._start_once(cp, wp):
                return
        raise RuntimeError("evchat did not start on 127.0.0.1:%s and :%s; log:\n%s"
                           % (cp, wp, self.log_tail()))

    def _start_once(self, cp, wp):
        self.starts += 1
        config = os.path.join(self.workdir, "evchat.toml")
        with open(config, "w") as f:
            f.write('[server]\nlisten = ["127.0.0.1:%d"]\n[websocket]\nlisten = ["127.0.0.1:%d"]\n' % (cp, wp))
            if self.tls:
                f.write("tls = true\n")
            f.write(self.extra)
            if self.tls:
                # JSON's string escapes are TOML's, for these ASCII paths.
                f.write("\n[tls]\ncert = %s\nkey = %s\n" % (json.dumps(self.tls[0]), json.dumps(self.tls[1])))
        log = open(self.log_path, "a")
        log.write("--- start %d\n" % self.starts)
        log.flush()
        self.proc = subprocess.Popen([self.binary, "--config", config], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log)
        log.close()
        want = ["listening on 127.0.0.1:%d" % cp, "web listening on 127.0.0.1:%d" % wp]
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                return False
            text = self.log_tail(start_only=True)
            if all(w in text for w in want) and can_connect(cp) and can_connect(wp):
                self.chat_port, self.web_port = cp, wp
                return True
            time.sleep(0.02)  # polling the log, not synchronising
        self.stop()
        return False

    def stop(self):
        """SIGTERM, and SIGKILL if it has not exited within the bound."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                return "evchat did not exit within %.0f s of SIGTERM" % TIMEOUT
        return None

    def log_tail(self, start_only=False, lines=15):
        try:
            with open(self.log_path, errors="replace") as f:
                text = f.read()
        except OSError:
            return ""
        if start_only:
            return text[text.rfind("--- start"):]
        return "\n".join(text.splitlines()[-lines:])


class TcpClient:
    """A chat client on a plain socket; every read has a deadline."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""
        self.seen = []
        greeting = self.read_line()
        if greeting is None or not greeting.startswith("You are "):
            raise AssertionError("TCP client got %r instead of its greeting" % greeting)
        self.addr = greeting[len("You are "):]

    def send(self, line):
        self.sock.sendall(line.encode() + b"\n")

    def read_line(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        text = line.decode(errors="replace")
        self.seen.append(text)
        return text

    def read_until(self, want, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            line = self.read_line(max(0.0, deadline - time.monotonic()))
            if line == want:
                return
            if line is None:
                raise AssertionError("TCP client did not receive %r within %.0f s; it got %r"
                                     % (want, timeout, self.seen[-5:]))

    def close(self):
        self.sock.close()


class Browser:
    """extra_args: more Chromium switches (--ignore-certificate-errors for the https driver)."""

    def __init__(self, profile_dir, width=1000, height=700, extra_args=()):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile_dir,
                  "--window-size=%d,%d" % (width, height)] + list(extra_args):
            opts.add_argument(a)
        # An alert must stay open for the test to see it, not be dismissed by the driver.
        opts.set_capability("unhandledPromptBehavior", "ignore")
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.driver.set_page_load_timeout(TIMEOUT)
        self.driver.set_script_timeout(TIMEOUT)

    def quit(self):
        try:
            self.driver.quit()
        except Exception:
            pass


def run(binary):
    from selenium.common.exceptions import NoAlertPresentException, TimeoutException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    work = tempfile.mkdtemp(prefix="evchat-browser-")
    # A copy: the binary restarted mid-test is the one tested, whatever a concurrent
    # build does to the original meanwhile.
    copy = os.path.join(work, "evchat")
    server = Server(copy, work)
    browser = None
    # Every server and browser started, for the cleanup: the cases after "https page
    # connects" use (through server and browser) the https ones.
    servers = [server]
    browsers = []
    clients = []
    failures = 0
    state = {}

    def lines():
        return [li.text for li in browser.driver.find_elements(By.CSS_SELECTOR, "#log li")]

    def page_state():
        s = browser.driver.find_element(By.ID, "state")
        return s.text, s.get_attribute("class")

    def wait(cond, what, timeout=TIMEOUT):
        try:
            return WebDriverWait(browser.driver, timeout, poll_frequency=0.05).until(lambda d: cond())
        except TimeoutException:
            raise AssertionError("%s within %.0f s; state %r, last lines %r"
                                 % (what, timeout, page_state(), lines()[-5:])) from None

    def wait_line(text, what):
        wait(lambda: text in lines(), "%s: %r not shown" % (what, text))

    def connected():
        return page_state() == ("connected", "open")

    def greeted_as(what="no `You are` line"):
        """The page's ADDR from its latest `You are` line, once there is one; a loopback one."""
        wait(lambda: any(t.startswith("You are ") for t in lines()), what)
        me = [t for t in lines() if t.startswith("You are ")][-1][len("You are "):]
        if not me.startswith("127.0.0.1:"):
            raise AssertionError("the page is %r, not a 127.0.0.1 address" % me)
        return me

    def tcp():
        c = TcpClient(server.chat_port)
        clients.append(c)
        return c

    def type_line(text):
        say = browser.driver.find_element(By.ID, "say")
        say.click()
        say.send_keys(text + Keys.ENTER)

    def case_connects():
        browser.driver.get("http://127.0.0.1:%d/" % server.web_port)
        wait(connected, "the page did not say connected")
        state["me"] = greeted_as()

    def case_tcp_to_page():
        a = tcp()
        state["a"] = a
        a.send("hello from a TCP client")
        wait_line("%s: hello from a TCP client" % a.addr, "the TCP client's line")

    def case_page_to_tcp():
        a = state["a"]
        type_line("hello from the page")
        a.read_until("%s: hello from the page" % state["me"])
        if browser.driver.find_element(By.ID, "say").get_attribute("value") != "":
            raise AssertionError("the input was not cleared after sending")

    def case_html_is_text():
        a = state["a"]
        evil = "<img src=x onerror=alert(1)>"
        a.send(evil)
        a.send("after the markup")
        wait_line("%s: after the markup" % a.addr, "the line after the one with HTML")
        imgs = browser.driver.find_elements(By.TAG_NAME, "img")
        if imgs:
            raise AssertionError("%d img element(s) in the DOM" % len(imgs))
        if "%s: %s" % (a.addr, evil) not in lines():
            raise AssertionError("%r is not shown literally; last lines %r" % (evil, lines()[-3:]))
        try:
            alert = browser.driver.switch_to.alert
            text = alert.text
            alert.dismiss()
            raise AssertionError("an alert fired: %r" % text)
        except NoAlertPresentException:
            pass

    def case_reconnects():
        for c in clients:
            c.close()
        clients.clear()
        why = server.stop()
        if why:
            raise AssertionError(why)
        wait(lambda: page_state()[1] == "closed", "the page did not show the connection lost")
        before = sum(1 for t in lines() if t.startswith("You are "))
        server.start(server.chat_port, server.web_port)
        wait(connected, "the page did not reconnect", timeout=20)
        wait(lambda: sum(1 for t in lines() if t.startswith("You are ")) > before,
             "no new `You are` line after reconnecting")
        me = [t for t in lines() if t.startswith("You are ")][-1][len("You are "):]
        state["me"] = me
        b = tcp()
        state["a"] = b
        b.send("hello after the restart")
        wait_line("%s: hello after the restart" % b.addr, "a TCP line after the restart")

    def case_narrow():
        d = browser.driver
        d.set_window_size(360, 640)
        wait(lambda: d.execute_script("return window.innerWidth") <= 360, "the window did not narrow")
        vw = d.execute_script("return window.innerWidth")
        say = d.find_element(By.ID, "say")
        send = d.find_element(By.ID, "send")
        for name, el in (("input", say), ("send button", send)):
            if not el.is_displayed():
                raise AssertionError("the %s is not displayed at %d px" % (name, vw))
            r = d.execute_script("const r = arguments[0].getBoundingClientRect();"
                                 "return [r.left, r.right, r.top, r.bottom, window.innerHeight];", el)
            if r[0] < 0 or r[1] > vw or r[2] < 0 or r[3] > r[4]:
                raise AssertionError("the %s is outside the %d px viewport: %r" % (name, vw, r))
        if say.size["width"] < 150:
            raise AssertionError("the input is only %d px wide at %d px" % (say.size["width"], vw))
        sw = d.execute_script("return document.documentElement.scrollWidth")
        if sw > vw:
            raise AssertionError("the page scrolls sideways: %d px wide at %d px" % (sw, vw))
        if not connected():  # a failed case before: a fresh page, so this one stands alone
            d.get("http://127.0.0.1:%d/" % server.web_port)
            wait(connected, "the page did not say connected")
        me = greeted_as()
        c = tcp()
        wait_line("%s has arrived" % c.addr, "the TCP client's arrival")
        type_line("hello from a narrow window")
        c.read_until("%s: hello from a narrow window" % me)

    def page_socket_url():
        return browser.driver.execute_script("return socket ? socket.url : null")

    def case_https_connects():
        # From here on, the helpers above (lines, wait, tcp, type_line) and the cases below
        # speak to an evchat whose web port is https/wss only, through a browser that
        # takes its self-signed certificate.
        nonlocal server, browser
        tls_dir = os.path.join(work, "tls")
        os.mkdir(tls_dir)
        server = Server(copy, tls_dir, tls=make_certificate(tls_dir))
        servers.append(server)
        server.start()
        browser = Browser(os.path.join(tls_dir, "profile"), extra_args=["--ignore-certificate-errors"])
        browsers.append(browser)
        d = browser.driver
        d.get("https://127.0.0.1:%d/" % server.web_port)
        if d.execute_script("return location.protocol") != "https:" or not d.find_elements(By.ID, "say"):
            raise AssertionError("the chat page did not load over https: %s, title %r" % (d.current_url, d.title))
        wait(connected, "the page over https did not say connected")
        url = page_socket_url()
        if url != "wss://127.0.0.1:%d/ws" % server.web_port:
            raise AssertionError("the page's WebSocket is %r, not wss://127.0.0.1:%d/ws" % (url, server.web_port))
        state["me"] = greeted_as("no `You are` line over wss")

    def case_wss_tcp_to_page():
        a = tcp()
        state["a"] = a
        a.send("hello over wss from a TCP client")
        wait_line("%s: hello over wss from a TCP client" % a.addr, "the TCP client's line")

    def case_wss_page_to_tcp():
        type_line("hello over wss from the page")
        state["a"].read_until("%s: hello over wss from the page" % state["me"])
        url = page_socket_url()
        if not (url or "").startswith("wss://"):
            raise AssertionError("the page's WebSocket is now %r" % url)

    def case_http_to_https_port():
        # evchat closes a connection whose first bytes are no TLS handshake: the browser
        # gets a network error at once, not the page, and not after a timeout.
        d = browser.driver
        bound = TIMEOUT / 2
        d.set_page_load_timeout(bound)
        start = time.monotonic()
        try:
            d.get("http://127.0.0.1:%d/" % server.web_port)
        except TimeoutException:
            raise AssertionError("http:// to the https port still loading after %.0f s" % bound) from None
        except WebDriverException as e:
            if "net::ERR_" not in str(e):
                raise
        finally:
            d.set_page_load_timeout(TIMEOUT)
        took = time.monotonic() - start
        if d.find_elements(By.ID, "say") or d.find_elements(By.ID, "state"):
            raise AssertionError("the chat page loaded from %s" % d.current_url)
        if not d.current_url.startswith("http://"):
            raise AssertionError("the browser went to %s instead" % d.current_url)
        error = d.execute_script("return document.body ? document.body.innerText : ''")
        if "ERR_" not in error:
            raise AssertionError("no network error shown, but %r" % error[:200])
        if took > bound:
            raise AssertionError("the error took %.1f s" % took)
        # And the listener still serves https.
        if server.proc is None or server.proc.poll() is not None:
            raise AssertionError("evchat exited")
        d.get("https://127.0.0.1:%d/" % server.web_port)
        wait(connected, "the page over https did not connect again")

    cases = [
        ("page connects", case_connects),
        ("tcp line shown in page", case_tcp_to_page),
        ("page line reaches tcp", case_page_to_tcp),
        ("html shown as text", case_html_is_text),
        ("reconnects after restart", case_reconnects),
        ("input usable at 360px", case_narrow),
        ("https page connects over wss", case_https_connects),
        ("wss: tcp line shown in page", case_wss_tcp_to_page),
        ("wss: page line reaches tcp", case_wss_page_to_tcp),
        ("http to the https port fails", case_http_to_https_port),
    ]
    # The first case of each group opens the page the others use: if it fails, they are not run.
    group_starts = {"page connects": "the page never connected",
                    "https page connects over wss": "the https page never connected"}
    try:
        try:
            shutil.copy2(binary, copy)
            server.start()
            browser = Browser(os.path.join(work, "profile"))
            browsers.append(browser)
        except Exception as e:
            print("FAIL: browser setup: %s" % (str(e) or type(e).__name__), flush=True)
            return 1
        broken = None
        for name, fn in cases:
            if name in group_starts:
                broken = None
            if broken:
                print("FAIL: browser %s: not run, %s" % (name, broken), flush=True)
                failures += 1
                continue
            try:
                fn()
                print("PASS: browser %s" % name, flush=True)
            except Exception as e:
                failures += 1
                # WebDriver's own errors without their stack trace.
                msg = (getattr(e, "msg", None) or str(e) or type(e).__name__).strip().replace("\n", " | ")
                print("FAIL: browser %s: %s" % (name, msg), flush=True)
                if name in group_starts:
                    broken = group_starts[name]
                elif server.proc is None or server.proc.poll() is not None:
                    broken = "evchat is not running"
        if failures:
            for s in servers:
                print("evchat log %s (tail):\n%s" % (s.log_path, s.log_tail()), file=sys.stderr)
    finally:
        for c in clients:
            c.close()
        for b in browsers:
            b.quit()
        for s in servers:
            why = s.stop()
            if why:
                print("FAIL: browser cleanup: %s" % why, flush=True)
                failures += 1
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("EVCHAT_BIN", "build/evchat")
    binary = os.path.abspath(binary)
    skip = ensure_dependencies()
    if skip:
        print("SKIPPED: browser tests (%s)" % skip, flush=True)
        return 0
    if not os.access(binary, os.X_OK):
        print("FAIL: browser setup: no evchat binary at %s" % binary, flush=True)
        return 1
    return run(binary)


if __name__ == "__main__":
    sys.exit(main())
