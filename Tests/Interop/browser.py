"""Interop: a real browser (headless Chromium through Selenium) against the example servers.

    python3 Tests/Interop/browser.py ECHO_PORT ECHO_LOG CHAT_PORT HELLO_PORT EXPLAINED_PORT EXPLAINED_LOG \
        TLS_CHAT_PORT CERTIFICATE_SPKI_SHA256

- the chat page in two tabs: a message typed in one appears in both;
- an echo script against websocket-echo (compression as Chromium offers it): multi-byte text,
  an ArrayBuffer, a 1 MiB message, and a close with code and reason, checked in the page and
  in the server's log;
- the hello page: open -> "Hello from server, John" -> close 1000 about 5 s later;
- the "WebSockets Explained" page: the server greets it with "Hello client!" and prints the
  page's "Hello server!" as "Client: Hello server!";
- the chat page over https (the test certificate trusted by its key's hash), which connects
  with wss://.
"""
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import checks
from checks import check

ECHO, ECHO_LOG, CHAT, HELLO = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
EXPLAINED, EXPLAINED_LOG = int(sys.argv[5]), sys.argv[6]
TLS_CHAT, SPKI = int(sys.argv[7]), sys.argv[8]


options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--ignore-certificate-errors-spki-list={SPKI}"):
    options.add_argument(argument)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_script_timeout(30)
wait = WebDriverWait(driver, 15)

try:
    # The chat in two tabs.
    driver.get(f"http://127.0.0.1:{CHAT}/")
    first = driver.current_window_handle
    wait.until(lambda d: d.find_element(By.ID, "status").text == "connected")
    driver.switch_to.new_window("tab")
    second = driver.current_window_handle
    driver.get(f"http://127.0.0.1:{CHAT}/")
    wait.until(lambda d: d.find_element(By.ID, "status").text == "connected")
    check(True, "chat: both tabs connected")
    box = driver.find_element(By.NAME, "message")
    box.send_keys("hello from tab two, with ünïcödé")
    box.submit()
    for handle in (first, second):
        driver.switch_to.window(handle)
        wait.until(lambda d: "hello from tab two, with ünïcödé" in d.find_element(By.ID, "messages").text)
    check(True, "chat: a message typed in one tab appears in both")

    # The echo script, run from the chat page's origin against websocket-echo.
    result = driver.execute_async_script("""
      const done = arguments[arguments.length - 1];
      const port = arguments[0];
      const ws = new WebSocket(`ws://127.0.0.1:${port}/browser`);
      ws.binaryType = 'arraybuffer';
      const results = {};
      const big = 'x'.repeat(1 << 20);
      const bytes = new Uint8Array([0, 1, 2, 250, 255]);
      const steps = [
        () => ws.send('κόσμε 🌍 — multi-byte'),
        () => ws.send(bytes.buffer),
        () => ws.send(big),
      ];
      let step = 0;
      ws.onopen = () => { results.extensions = ws.extensions; steps[step++](); };
      ws.onmessage = (event) => {
        if (step === 1) results.text = event.data;
        if (step === 2) results.binary = Array.from(new Uint8Array(event.data));
        if (step === 3) { results.bigLength = event.data.length; results.bigSame = event.data === big; }
        if (step < steps.length) steps[step++](); else ws.close(4001, 'browser bye');
      };
      ws.onclose = (event) => { results.close = [event.code, event.reason, event.wasClean]; done(results); };
      ws.onerror = () => { results.error = true; };
    """, ECHO)
    check(result.get("extensions", "").startswith("permessage-deflate"), f"browser echo: extensions {result.get('extensions')!r}")
    check(result.get("text") == "κόσμε 🌍 — multi-byte", "browser echo: multi-byte text")
    check(result.get("binary") == [0, 1, 2, 250, 255], "browser echo: ArrayBuffer")
    check(result.get("bigLength") == 1 << 20 and result.get("bigSame"), "browser echo: 1 MiB message")
    check(result.get("close") == [4001, "", True], f"browser echo: close seen in the page {result.get('close')}")
    deadline = time.time() + 5
    seen = ""
    while time.time() < deadline and 'close 4001 "browser bye" clean' not in seen:
        time.sleep(0.1)
        seen = open(ECHO_LOG).read()
    check('close 4001 "browser bye" clean extensions=["permessage-deflate"]' in seen, "browser echo: close code and reason seen by the server")

    # The hello page.
    driver.get(f"http://127.0.0.1:{HELLO}/")
    start = time.time()
    WebDriverWait(driver, 15).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#log li")) >= 4)
    elapsed = time.time() - start
    lines = [item.text for item in driver.find_elements(By.CSS_SELECTOR, "#log li")]
    check(lines == [
        "[open] Connection established",
        "Sending to server",
        "[message] Data received from server: Hello from server, John",
        "[close] Connection closed cleanly, code=1000 reason=Goodbye",
    ], f"hello: open -> message -> close {lines}")
    check(4.5 <= elapsed <= 12, f"hello: closed about 5 s after the message ({elapsed:.1f} s)")

    # The "WebSockets Explained" page, served at / beside its WebSocket at /.
    driver.get(f"http://127.0.0.1:{EXPLAINED}/")
    WebDriverWait(driver, 15).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#log li")) >= 1)
    lines = [item.text for item in driver.find_elements(By.CSS_SELECTOR, "#log li")]
    check(lines == ["Server: Hello client!"], f"explained: the page logs the server's greeting {lines}")
    deadline = time.time() + 5
    while time.time() < deadline and "Client: Hello server!" not in open(EXPLAINED_LOG).read():
        time.sleep(0.1)
    check("Client: Hello server!" in open(EXPLAINED_LOG).read(), "explained: the server prints the page's message")

    # The chat over https: the page's script picks wss:// from location.protocol.
    driver.get(f"https://localhost:{TLS_CHAT}/")
    wait.until(lambda d: d.find_element(By.ID, "status").text == "connected")
    check(driver.execute_script("return location.protocol") == "https:", "chat over https: the page loaded")
    box = driver.find_element(By.NAME, "message")
    box.send_keys("hello over wss")
    box.submit()
    wait.until(lambda d: "hello over wss" in d.find_element(By.ID, "messages").text)
    check(True, "chat over https: a message goes round over wss://")
finally:
    driver.quit()

print(f"browser interop: {checks.passed} passed, 0 failed")
