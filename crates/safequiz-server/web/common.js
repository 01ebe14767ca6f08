// safequiz pages, shared part: the DOM builder, number and time formats, and the answer review
// that both a participant (after submitting) and an organizer (looking at a participant's
// attempts) see. Plain ES2017; `http/pages.rs` puts this file in front of each page's script,
// so every page still loads one script.
var SQ = (function () {
  'use strict';

  // h('p', {class: 'x', text: '…', onclick: f}, [children]): one element, attributes set safely
  // (text through textContent, never as HTML).
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === 'text') el.textContent = v;
        else if (k === 'class') el.className = v;
        else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? '' : v);
      });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return el;
  }

  // "2026年6月3日 09:00" in `zone` (the campaign's zone, Beijing time for the national one).
  function localTime(iso, zone) {
    var d = new Date(iso);
    try {
      return new Intl.DateTimeFormat('zh-CN', {
        timeZone: zone || 'Asia/Shanghai', year: 'numeric', month: 'long', day: 'numeric',
        hour: '2-digit', minute: '2-digit', hour12: false,
      }).format(d);
    } catch (e) {
      return d.toLocaleString('zh-CN');
    }
  }

  // "09:00:05" in `zone`.
  function clockTime(iso, zone) {
    var d = new Date(iso);
    try {
      return new Intl.DateTimeFormat('zh-CN', {
        timeZone: zone || 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
      }).format(d);
    } catch (e) {
      return d.toLocaleTimeString('zh-CN');
    }
  }

  function duration(ms) {
    var s = Math.round(ms / 1000);
    var m = Math.floor(s / 60);
    return m > 0 ? m + ' 分 ' + (s % 60) + ' 秒' : s + ' 秒';
  }

  function kindName(kind) {
    return { single: '单选题', multiple: '多选题', true_false: '判断题' }[kind] || '';
  }

  // An option key as people say it: 正确/错误 for true/false, the letter otherwise.
  function choiceLabel(key) { return key === 'T' ? '正确' : key === 'F' ? '错误' : key; }

  // One reviewed question: options marked right and wrong, the verdict, explanation and source.
  // Right and wrong are said in words with a symbol (✓ 正确答案, ✗ 错选), not by colour alone.
  // `words` names whose answer it is: {chosen: '（你的选择）', answer: '你的答案'}.
  function reviewCard(item, words) {
    var options = (item.options || []).map(function (o) {
      var isRight = item.correct_choices.indexOf(o.key) >= 0;
      var isChosen = item.choices.indexOf(o.key) >= 0;
      return h('div', { class: 'option' + (isRight ? ' right' : isChosen ? ' wrong' : '') }, [
        h('span', { class: 'key', text: o.key === 'T' ? '✓' : o.key === 'F' ? '✗' : o.key }),
        h('span', { text: (o.text === null ? '（选项已不在题库中）' : o.text) + (isChosen ? words.chosen : '') }),
        isRight ? h('span', { class: 'mark', text: '✓ 正确答案' }) : isChosen ? h('span', { class: 'mark', text: '✗ 错选' }) : null,
      ]);
    });
    return h('div', { class: 'card review' }, [
      item.kind ? h('span', { class: 'kind', text: kindName(item.kind) }) : null,
      h('p', { class: 'verdict ' + (item.correct ? 'ok' : 'bad'), text: (item.correct ? '✓ ' : '✗ ') + '第 ' + (item.index + 1) + ' 题 ' + (item.correct ? '回答正确' : '回答错误') }),
      h('p', { class: 'stem', text: item.stem === null ? '（该题已从题库中删除，题号 ' + item.id + '）' : item.stem }),
    ].concat(options).concat([
      h('p', { text: '正确答案：' + item.correct_choices.map(choiceLabel).join('、') + '；' + words.answer + '：' + (item.choices.length ? item.choices.map(choiceLabel).join('、') : '未作答') }),
      item.explanation === null ? null : h('div', { class: 'explain' }, [h('p', { text: '解析：' + item.explanation }), h('p', { class: 'muted', text: '出处：' + item.source })]),
    ]));
  }

  return {
    h: h,
    localTime: localTime,
    clockTime: clockTime,
    duration: duration,
    kindName: kindName,
    choiceLabel: choiceLabel,
    reviewCard: reviewCard,
  };
})();
