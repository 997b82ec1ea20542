/* The SQL editor (/sql): syntax highlighting of the query, Ctrl+Enter to run, the place of a
 * syntax error, and htmx swapping the page's 4xx fragments (the API's error messages).
 *
 * Highlighting: the textarea's text is made transparent and a <pre> beneath it shows the same
 * text in coloured spans, built with textContent (never innerHTML). Without this script the
 * textarea is a plain one. No inline script: the CSP allows scripts from 'self' only. */
(function () {
  "use strict";

  var KEYWORDS = new Set((
    "all and any anti array as asc asof at between both by case cast check collate column " +
    "create cross cube current current_date current_time current_timestamp default desc " +
    "describe distinct else end escape except exists explain false fetch filter first " +
    "following for from full glob group grouping having if ilike in inner intersect interval " +
    "into is join lateral last left like limit map natural not null nulls of offset on only " +
    "or order outer over partition pivot positional preceding qualify range recursive " +
    "replace right rollup row rows select semi set similar some struct table tablesample " +
    "then ties timestamp to top true unbounded union unnest unpivot using values version " +
    "when where window with within without"
  ).split(" "));
  var TYPES = new Set((
    "bigint binary bit blob bool boolean char date datetime decimal double float hugeint int " +
    "int2 int4 int8 integer json list numeric real smallint string text time timestamptz " +
    "tinyint ubigint uinteger usmallint utinyint uuid varbinary varchar"
  ).split(" "));

  /* The query as [kind, text] tokens: comment, string, quoted, number, keyword, type, word,
   * other. Unterminated strings and comments run to the end, as the parser reads them. */
  function tokenize(text) {
    var tokens = [];
    var i = 0;
    var n = text.length;
    function push(kind, end) {
      tokens.push([kind, text.slice(i, end)]);
      i = end;
    }
    function until(close, from) {
      var at = text.indexOf(close, from);
      return at < 0 ? n : at + close.length;
    }
    function quoted(quote) {
      var j = i + 1;
      while (j < n) {
        if (text[j] === quote) {
          if (text[j + 1] === quote) { j += 2; continue; }
          return j + 1;
        }
        j += 1;
      }
      return n;
    }
    while (i < n) {
      var ch = text[i];
      var next = text[i + 1];
      if (ch === "-" && next === "-") { push("comment", until("\n", i)); continue; }
      if (ch === "/" && next === "*") { push("comment", until("*/", i + 2)); continue; }
      if (ch === "'") { push("string", quoted("'")); continue; }
      if (ch === '"' || ch === "`") { push("quoted", quoted(ch)); continue; }
      var rest = text.slice(i);
      var number = /^(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)/.exec(rest);
      if (number && !/[\w$]/.test(text[i - 1] || "")) { push("number", i + number[0].length); continue; }
      var word = /^[A-Za-z_][\w$]*/.exec(rest);
      if (word) {
        var lower = word[0].toLowerCase();
        var kind = KEYWORDS.has(lower) ? "keyword" : TYPES.has(lower) ? "type" : "word";
        push(kind, i + word[0].length);
        continue;
      }
      var plain = /^[^-/'"`\w.]+|^./.exec(rest);
      push("other", i + plain[0].length);
    }
    return tokens;
  }

  function paint(code, text) {
    var fragment = document.createDocumentFragment();
    tokenize(text).forEach(function (token) {
      if (token[0] === "other" || token[0] === "word") {
        fragment.appendChild(document.createTextNode(token[1]));
        return;
      }
      var span = document.createElement("span");
      span.className = "tok-" + token[0];
      span.textContent = token[1];
      fragment.appendChild(span);
    });
    // A final newline needs something after it, or the <pre> is a line shorter.
    fragment.appendChild(document.createTextNode(text.endsWith("\n") ? " " : ""));
    code.replaceChildren(fragment);
  }

  function setUp(editor) {
    var area = editor.querySelector("textarea");
    var pre = editor.querySelector("pre");
    var code = pre && pre.querySelector("code");
    if (!area || !code) return;
    function sync() { pre.scrollTop = area.scrollTop; pre.scrollLeft = area.scrollLeft; }
    area.addEventListener("input", function () { paint(code, area.value); sync(); });
    area.addEventListener("scroll", sync);
    area.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        area.form.requestSubmit();
      }
    });
    paint(code, area.value);
    editor.classList.add("is-highlighted");
  }

  /* Put the caret where a syntax error points (1-based line and column). */
  function showErrorPlace(root) {
    var error = root.querySelector ? root.querySelector(".sql-error[data-line]") : null;
    var area = document.getElementById("sql-text");
    if (!error || !area) return;
    var line = parseInt(error.getAttribute("data-line"), 10);
    var column = parseInt(error.getAttribute("data-column") || "1", 10);
    var lines = area.value.split("\n");
    var at = 0;
    for (var k = 0; k < line - 1 && k < lines.length; k += 1) at += lines[k].length + 1;
    at = Math.min(at + Math.max(column - 1, 0), area.value.length);
    area.focus();
    area.setSelectionRange(at, Math.min(at + 1, area.value.length));
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-sql-editor]").forEach(setUp);
    showErrorPlace(document);
  });

  // htmx 2 swaps no 4xx by default: the page's own fragments (HTML) carry the message.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (xhr.status >= 400 && xhr.status < 500 && type.indexOf("text/html") === 0 &&
        event.detail.target.closest(".sql-page")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // A refusal before the page's code runs (no CSRF token, signed out) is the API's JSON.
  document.addEventListener("htmx:responseError", function (event) {
    var run = document.getElementById("sql-run");
    var xhr = event.detail.xhr;
    if (!run || !event.detail.target.closest(".sql-page")) return;
    var message = "The request failed (" + xhr.status + ").";
    try { message = JSON.parse(xhr.responseText).message || message; } catch (ignored) { /* text */ }
    var alert = document.createElement("div");
    alert.className = "sql-error";
    alert.setAttribute("role", "alert");
    var text = document.createElement("p");
    text.className = "sql-error-message";
    text.textContent = message;
    alert.appendChild(text);
    run.replaceChildren(alert);
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    showErrorPlace(event.detail.target);
  });
})();
