// Globals the web UI's pages load with classic <script> tags before the modules:
// vendored Leaflet (web/vendor/leaflet) and ECharts (web/vendor/echarts). Typed loosely;
// the check is about our code, not theirs.
declare const L: any;
declare const echarts: any;
