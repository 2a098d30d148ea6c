/* geo5g report page: builds the map layers from the GeoJSON embedded by
 * geo5g/render.py. Part of geo5g (MIT). Needs only Leaflet.
 *
 * Every string in the embedded data was HTML-escaped by render.py, so
 * tooltips may join them as HTML; numbers are formatted here.
 */
var geo5g = (function () {
  "use strict";

  var layers = {}; // key -> Leaflet layer (legend toggling, tests)

  function fmt(value, how) {
    if (value === null || value === undefined || value === "") {
      return "\u2014";
    }
    switch (how) {
      case "int":
        return Math.round(value).toLocaleString("en-US");
      case "f1":
        return Number(value).toFixed(1);
      case "f2":
        return Number(value).toFixed(2);
      case "km":
        return (value / 1000).toFixed(1) + " km";
      case "m":
        return Math.round(value).toLocaleString("en-US") + " m";
      case "met":
        return value ? "\u2714 met" : "\u2718 not met";
      case "covered":
        return value ? "\u2714 covered" : "\u2718 not covered";
      default:
        return String(value); // text, escaped by render.py
    }
  }

  function tooltip(spec) {
    return function (layer) {
      var p = layer.feature.properties;
      var html = "";
      if (spec.count) {
        return "<b>" + fmt(p[spec.count.prop], "int") + "</b> " + spec.count.label;
      }
      if (spec.title && p[spec.title]) {
        html += '<div class="geo5g-tip-title">' + p[spec.title] + "</div>";
      }
      if (spec.fields && spec.fields.length) {
        html += "<table>";
        spec.fields.forEach(function (f) {
          html += "<tr><th>" + f[1] + "</th><td>" + fmt(p[f[0]], f[2]) + "</td></tr>";
        });
        html += "</table>";
      }
      return html;
    };
  }

  function styler(spec) {
    return function (feature) {
      var style = Object.assign({}, spec.style);
      var k = feature.properties.k;
      if (spec.palette && k !== undefined) {
        var colour = k === null || k < 0 ? spec.nodata : spec.palette[k];
        if (spec.paint !== "stroke") {
          style.fillColor = colour;
        }
        if (spec.paint !== "fill") {
          style.color = colour;
        }
      }
      return style;
    };
  }

  function labels(rows) {
    return rows.map(function (row) {
      return L.marker([row[0], row[1]], {
        icon: L.divIcon({
          className: "geo5g-label",
          html: "<span>" + row[2] + "</span>",
          iconSize: null,
        }),
        interactive: false,
        keyboard: false,
      });
    });
  }

  // Fixed drawing order whatever is toggled: each kind of layer has its own
  // pane (and so its own canvas), between Leaflet's tile (200) and marker
  // (600) panes.
  var PANES = { zones: 380, density: 390, outlines: 395, lines: 410, points: 420 };

  function pane(map, name) {
    if (!map.getPane(name)) {
      map.createPane(name).style.zIndex = PANES[name] || 400;
    }
    return name;
  }

  /* A layer from an embedded FeatureCollection and a spec (see render.py). */
  function layer(map, key, data, spec) {
    var style = styler(spec);
    var geo = L.geoJson(data.geojson, {
      style: style,
      pane: pane(map, spec.pane || "lines"),
      interactive: spec.interactive !== false,
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, Object.assign({ pane: spec.pane }, style(feature)));
      },
    });
    if (spec.interactive !== false) {
      geo.bindTooltip(tooltip(spec), { sticky: spec.sticky !== false, className: "geo5g-tip" });
      if (spec.highlight) {
        geo.on("mouseover", function (e) {
          e.layer.setStyle(spec.highlight);
          if (e.layer.bringToFront && spec.kind !== "points") {
            e.layer.bringToFront();
          }
        });
        geo.on("mouseout", function (e) {
          geo.resetStyle(e.layer);
        });
      }
    }
    var out = data.labels ? L.featureGroup([geo].concat(labels(data.labels))) : geo;
    if (data.labels && spec.labelMinZoom) {
      // Many names only become readable once zoomed in.
      map.on("zoomend moveend", function () {
        var hide = map.getZoom() < spec.labelMinZoom;
        L.DomUtil[hide ? "addClass" : "removeClass"](map.getContainer(), "geo5g-labels-hidden");
      });
    }
    out.geo5gKey = key;
    out.geo5gFeatures = geo;
    layers[key] = out;
    return out;
  }

  /* Legend control; its sections follow their layers on and off. */
  function finish(map, legendHtml) {
    api.map = map;
    if (map.attributionControl) {
      map.attributionControl.setPrefix("Leaflet");
    }
    var legend = L.control({ position: "bottomleft" });
    legend.onAdd = function () {
      var div = L.DomUtil.create("div", "geo5g-legend leaflet-bar");
      div.innerHTML = legendHtml; // built and escaped by render.py
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    legend.addTo(map);
    var container = legend.getContainer();

    function sync() {
      container.querySelectorAll("[data-layer]").forEach(function (section) {
        var lyr = layers[section.getAttribute("data-layer")];
        section.style.display = lyr && map.hasLayer(lyr) ? "" : "none";
      });
    }
    map.on("overlayadd overlayremove", sync);
    sync();
    document.body.setAttribute("data-geo5g-ready", "1");
  }

  var api = { layer: layer, finish: finish, layers: layers, fmt: fmt, map: null };
  return api;
})();
