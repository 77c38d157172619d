document.querySelectorAll('.tabs').forEach(function (box) {
  var bar = box.querySelector('.tab-bar');
  bar.addEventListener('click', function (e) {
    var b = e.target.closest('.tab'); if (!b) return;
    bar.querySelectorAll('.tab').forEach(function (t) {
      var on = t === b; t.classList.toggle('active', on); t.setAttribute('aria-selected', on);
    });
    Array.prototype.forEach.call(box.children, function (p) {
      if (p.classList.contains('tab-panel')) p.classList.toggle('active', p.id === b.dataset.tab);
    });
  });
});
document.querySelectorAll('table.sortable').forEach(function (t) {
  t.querySelectorAll('thead th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var asc = !th.classList.contains('asc');
      t.querySelectorAll('thead th').forEach(function (h) { h.classList.remove('asc', 'desc'); });
      th.classList.add(asc ? 'asc' : 'desc');
      var body = t.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col], y = b.cells[col];
        var nx = x && x.dataset.v !== undefined ? parseFloat(x.dataset.v) : NaN;
        var ny = y && y.dataset.v !== undefined ? parseFloat(y.dataset.v) : NaN;
        var r = (!isNaN(nx) && !isNaN(ny)) ? nx - ny
              : (x ? x.textContent : '').localeCompare(y ? y.textContent : '', undefined, {numeric: true});
        return asc ? r : -r;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
