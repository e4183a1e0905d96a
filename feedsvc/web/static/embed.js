/*
 * Báo Hòa Bình headline widget (feedsvc).
 *
 *   <div data-feedsvc="mai-chau" data-n="5"><a href=".../feeds/mai-chau">Tin Mai Châu</a></div>
 *   <script src="https://<this service>/embed.js" async></script>
 *
 * Replaces the content of every [data-feedsvc] element with the newest headlines of that
 * feed, read from its JSON Feed on the server this script came from. Options: data-n (1-20,
 * default 5), data-thumbs="1" (small pictures), data-dates="0" (no dates). If anything fails
 * the element keeps what it had (the link above), so readers still find the news.
 *
 * Text from the feed is only ever set with textContent, links and pictures must be http(s),
 * and nothing is left in the host page's global scope.
 */
(function () {
  'use strict';

  var script = document.currentScript;
  if (!script || !script.src) {
    return;
  }
  var origin = new URL(script.src).origin;
  var MAX_N = 20;
  var DEFAULT_N = 5;
  var SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
  var DONE = 'data-feedsvc-state';

  function httpUrl(value) {
    if (typeof value !== 'string') {
      return null;
    }
    var url;
    try {
      url = new URL(value);
    } catch (e) {
      return null;
    }
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  }

  // The feed's dates carry +07:00 (Vietnam): show them as the paper does, dd/mm/yyyy HH:MM.
  function vnDate(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(typeof iso === 'string' ? iso : '');
    return m ? m[3] + '/' + m[2] + '/' + m[1] + ' ' + m[4] + ':' + m[5] : '';
  }

  function howMany(raw) {
    var n = parseInt(raw, 10);
    if (isNaN(n)) {
      n = DEFAULT_N;
    }
    return Math.min(Math.max(n, 1), MAX_N);
  }

  function make(tag, className, text) {
    var el = document.createElement(tag);
    el.className = className;
    if (text) {
      el.textContent = text;
    }
    return el;
  }

  function thumbnail(src) {
    var img = make('img', 'feedsvc-thumb');
    img.src = src;
    img.alt = '';
    img.width = 64;
    img.height = 48;
    img.loading = 'lazy';
    img.style.display = 'block';
    img.style.objectFit = 'cover';
    img.style.marginTop = '0.15em';
    return img;
  }

  function item(entry, thumbs, dates) {
    var title = typeof entry.title === 'string' ? entry.title : '';
    if (!title) {
      return null;
    }
    var li = make('li', 'feedsvc-item');
    li.style.margin = '0 0 0.75em';
    var text = make('div', 'feedsvc-text');
    if (thumbs) {
      // Picture left, headline and date right, however many lines the headline takes;
      // an article without a picture keeps the column, so the headlines line up.
      li.style.display = 'grid';
      li.style.gridTemplateColumns = '64px minmax(0, 1fr)';
      li.style.columnGap = '0.6em';
      li.style.alignItems = 'start';
      var image = httpUrl(entry.image);
      li.appendChild(image ? thumbnail(image) : make('span', 'feedsvc-nothumb'));
    }
    var href = httpUrl(entry.url);
    var link = make(href ? 'a' : 'span', 'feedsvc-link', title);
    if (href) {
      link.href = href;
      link.target = '_blank';
      link.rel = 'noopener';
    }
    text.appendChild(link);
    var when = dates ? vnDate(entry.date_published) : '';
    if (when) {
      var time = make('time', 'feedsvc-date', when);
      time.dateTime = entry.date_published;
      time.style.display = 'block';
      time.style.fontSize = '0.85em';
      time.style.opacity = '0.8';
      text.appendChild(time);
    }
    li.appendChild(text);
    return li;
  }

  function render(el, slug, feed, n) {
    var thumbs = el.getAttribute('data-thumbs') === '1';
    var dates = el.getAttribute('data-dates') !== '0';
    var list = make('ul', 'feedsvc-list');
    list.style.listStyle = 'none';
    list.style.margin = '0';
    list.style.padding = '0';
    var entries = Array.isArray(feed.items) ? feed.items.slice(0, n) : [];
    entries.forEach(function (entry) {
      var li = entry && typeof entry === 'object' ? item(entry, thumbs, dates) : null;
      if (li) {
        list.appendChild(li);
      }
    });
    var source = make('p', 'feedsvc-source');
    source.style.margin = '0';
    source.style.fontSize = '0.85em';
    var more = make('a', '', typeof feed.title === 'string' ? feed.title : slug);
    more.href = origin + '/feeds/' + slug;
    more.target = '_blank';
    more.rel = 'noopener';
    source.appendChild(more);
    while (el.firstChild) {
      el.removeChild(el.firstChild);
    }
    el.appendChild(list);
    el.appendChild(source);
    el.setAttribute(DONE, 'ready');
  }

  function load(el) {
    if (el.hasAttribute(DONE)) {
      return;
    }
    var slug = el.getAttribute('data-feedsvc') || '';
    if (!SLUG.test(slug)) {
      el.setAttribute(DONE, 'error');
      console.warn('feedsvc: not a feed name: ' + slug);
      return;
    }
    el.setAttribute(DONE, 'loading');
    var n = howMany(el.getAttribute('data-n'));
    var url = origin + '/feeds/' + slug + '.json?limit=' + n;
    fetch(url, { credentials: 'omit' })
      .then(function (response) {
        if (!response.ok) {
          throw new Error('HTTP ' + response.status);
        }
        return response.json();
      })
      .then(function (feed) {
        render(el, slug, feed, n);
      })
      .catch(function (err) {
        el.setAttribute(DONE, 'error');
        console.warn('feedsvc: ' + url + ': ' + err.message);
      });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll('[data-feedsvc]'), load);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
