// The charts' scroll, and the cluster browser: filter by text, sort by size / growth / first seen. Reads the page only
// (textContent and data-* attributes), writes no HTML, so prompt text stays text.
(function () {
  // on a narrow screen the rate chart scrolls sideways: start at its right end, where the newest windows are
  var rate = document.getElementById("rate-chart");
  if (rate) rate.parentNode.scrollLeft = rate.parentNode.scrollWidth;
  var list = document.getElementById("cluster-list");
  if (!list) return;
  var search = document.getElementById("cluster-search");
  var sort = document.getElementById("cluster-sort");
  var count = document.getElementById("cluster-count");
  var items = Array.prototype.slice.call(list.querySelectorAll("details.cluster"));
  var text = items.map(function (el) { return el.textContent.toLowerCase(); });

  function filter() {
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    items.forEach(function (el, i) {
      var hit = words.every(function (w) { return text[i].indexOf(w) !== -1; });
      el.hidden = !hit;
      if (hit) shown++;
    });
    count.textContent = shown + " of " + items.length + " clusters";
  }

  function order() {
    var keyName = sort.value;
    var sorted = items.slice().sort(function (a, b) {
      if (keyName === "first_seen") return a.dataset.firstSeen < b.dataset.firstSeen ? 1 : -1;
      return parseFloat(b.dataset[keyName]) - parseFloat(a.dataset[keyName]);
    });
    sorted.forEach(function (el) { list.appendChild(el); });
  }

  search.addEventListener("input", filter);
  sort.addEventListener("change", order);
  filter();
})();
