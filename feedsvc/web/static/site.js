/*
 * Copy buttons. Without JavaScript the addresses and snippets are plain selectable text and
 * the buttons stay hidden; with it, each [data-copy] button copies its target's text.
 */
(function () {
  'use strict';

  var status = document.getElementById('copy-status');

  function announce(message) {
    if (status) {
      status.textContent = message;
    }
  }

  function textOf(target) {
    return target.tagName === 'INPUT' || target.tagName === 'TEXTAREA'
      ? target.value
      : target.textContent;
  }

  function select(target) {
    if (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA') {
      target.focus();
      target.select();
      return;
    }
    var range = document.createRange();
    range.selectNodeContents(target);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function legacyCopy(target) {
    select(target);
    try {
      return document.execCommand('copy');
    } catch (e) {
      return false;
    }
  }

  function copy(button) {
    var target = document.getElementById(button.getAttribute('data-copy'));
    if (!target) {
      return;
    }
    var label = button.getAttribute('data-label') || button.textContent;
    button.setAttribute('data-label', label);
    function done(ok) {
      button.textContent = ok ? 'Đã chép ✓' : 'Hãy bấm Ctrl+C';
      announce(ok ? 'Đã chép vào bộ nhớ tạm.' : 'Chưa chép được: nội dung đã được chọn, hãy bấm Ctrl+C.');
      if (!ok) {
        select(target);
      }
      window.setTimeout(function () {
        button.textContent = label;
      }, 2500);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(textOf(target)).then(
        function () { done(true); },
        function () { done(legacyCopy(target)); }
      );
    } else {
      done(legacyCopy(target));
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll('button[data-copy]'), function (button) {
    button.hidden = false;
    button.addEventListener('click', function () { copy(button); });
  });
  Array.prototype.forEach.call(document.querySelectorAll('input.copy-input'), function (input) {
    input.addEventListener('focus', function () { input.select(); });
  });
})();
