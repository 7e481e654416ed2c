// Small line icons for the public page's most common problems (names from the server's
// `top_services`, cityloop-service keywords.rs). Drawn for cityloop on a 24×24 grid with
// the current text colour; no outside assets.

const PATHS = {
  trash: 'M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13M10 11v6M14 11v6',
  bin: 'M5 9h14l-1.5 11h-11zM4 9l2-4h12l2 4M9 5V3h6v2M8 13h8',
  road: 'M8 3 4 21M16 3l4 18M12 4v3M12 10v3M12 16v3M9 15l2 1 1 2',
  manhole: 'M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM6 9h12M5 12h14M6 15h12',
  lamp: 'M7 21h6M10 21V6a3 3 0 0 1 3-3h2a3 3 0 0 1 3 3M15 6v2h5V6M17.5 10v2',
  stall: 'M3 9l2-5h14l2 5zM3 9c0 1.5 1.5 2.5 3 2.5S9 10.5 9 9c0 1.5 1.5 2.5 3 2.5S15 10.5 15 9c0 1.5 1.5 2.5 3 2.5S21 10.5 21 9M5 11.5V20h14v-8.5M10 20v-5h4v5',
  car: 'M3 16v-4l2-5h14l2 5v4zM3 16v3h3v-3M18 16v3h3v-3M7 13h.01M17 13h.01M5 12h14',
  bike: 'M5.5 17.5a3.5 3.5 0 1 0 0-.01M18.5 17.5a3.5 3.5 0 1 0 0-.01M5.5 17.5 9 10h7l2.5 7.5M9 10 12 17.5h2M15 6h3l-2 4',
  poster: 'M5 3h14v18H5zM8 7h8M8 11h8M8 15h5M3 5l2 1M21 5l-2 1',
  noise: 'M4 9v6h4l5 4V5L8 9zM16 9a4 4 0 0 1 0 6M18.5 6.5a8 8 0 0 1 0 11',
  smoke: 'M7 21c-2-3 2-4 0-7M12 21c-2-3 2-4 0-7M17 21c-2-3 2-4 0-7M4 11h16M6 11V7h12v4M9 7V4h6v3',
  dust: 'M3 20h18M6 20V10l4-3v13M14 20v-8h4v8M10 7h.01M13 5c1-1 3-1 4 0s3 1 4 0M12 9c1-1 3-1 4 0s3 1 4 0',
};

/** An inline SVG icon by name (a plain dot for an unknown name). */
export function icon(name) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '28');
  svg.setAttribute('height', '28');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', PATHS[name] || 'M12 11a1 1 0 1 0 0 2 1 1 0 0 0 0-2z');
  path.setAttribute('fill', 'none');
  path.setAttribute('stroke', 'currentColor');
  path.setAttribute('stroke-width', '1.6');
  path.setAttribute('stroke-linecap', 'round');
  path.setAttribute('stroke-linejoin', 'round');
  svg.append(path);
  return svg;
}
