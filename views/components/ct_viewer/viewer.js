// The case view's CT viewer: NiiVue in a Streamlit component iframe. Everything after the
// first render (slices, zoom, pan, window/level, HU readout, calipers) runs here, with no
// message back to the server, except a click in "outline" mode: it is sent to the page as the
// component's value ({kind: "click", mm: [x, y, z] in RAS mm, id}); the page grows the outline
// and sends it back as the "outline" overlay, which replaces the previous one without
// reloading the CT. A brush stroke on the outline ({kind: "stroke", mode: "add" | "erase",
// points: [[x, y, z], ...], radius (mm), plane, id}) is sent the same way. Slice numbers count from 1 in the order of the server's
// viewer and report: axial from the feet, coronal from the front, sagittal from the
// patient's right.
"use strict";
(function () {
  const { Niivue, SLICE_TYPE, DRAG_MODE } = window.niivue;
  const PLANES = { axial: SLICE_TYPE.AXIAL, coronal: SLICE_TYPE.CORONAL, sagittal: SLICE_TYPE.SAGITTAL, three: SLICE_TYPE.MULTIPLANAR };
  const TOOLS = { point: DRAG_MODE.crosshair, outline: DRAG_MODE.crosshair, add: DRAG_MODE.none, erase: DRAG_MODE.none, measure: DRAG_MODE.measurement, pan: DRAG_MODE.pan, window: DRAG_MODE.windowing };
  const $ = (id) => document.getElementById(id);

  function send(type, data) {
    window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type: type }, data || {}), "*");
  }

  const state = { key: null, plane: "axial", nv: null, camUrls: {}, camVolume: null, maskIndex: -1, presets: [], height: 600,
    tool: "point", loading: Promise.resolve(), outlineKey: null, outlineVolume: null, clicks: 0, stroke: null };
  // what the browser tests and the benchmark read: one entry per wheel event, the clicks sent
  // in outline mode, the key of the outline shown, and where a point (RAS mm) lies on screen
  const probe = { ready: false, steps: [], measurements: [], clicks: [], outlineKey: null, slice: sliceNumbers,
    screenOf: screenOf, nv: null, error: null };
  window.ctViewer = probe;

  function bytesOf(value) {
    if (value instanceof Uint8Array) return value;
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    if (value && value.buffer) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    return null;
  }

  function blobUrl(bytes) {
    return URL.createObjectURL(new Blob([bytes], { type: "application/gzip" }));
  }

  // 1-based slice numbers of the crosshair, in the server's (LPS) order
  function sliceNumbers() {
    const nv = state.nv;
    if (!nv || !nv.volumes.length) return null;
    const dims = nv.volumes[0].dimsRAS; // [3, x, y, z] on the RAS-reoriented grid
    const frac = nv.scene.crosshairPos;
    const at = (f, n) => Math.min(n - 1, Math.max(0, Math.floor(f * n)));
    return {
      sagittal: dims[1] - at(frac[0], dims[1]), // from the patient's right
      coronal: dims[2] - at(frac[1], dims[2]), // from the front
      axial: at(frac[2], dims[3]) + 1, // from the feet
      counts: { sagittal: dims[1], coronal: dims[2], axial: dims[3] },
    };
  }

  function showStatus(location) {
    const s = sliceNumbers();
    if (!s) return;
    const parts = [];
    const planes = state.plane === "three" ? ["axial", "coronal", "sagittal"] : [state.plane];
    for (const p of planes) parts.push(`${p[0].toUpperCase()}${p.slice(1)} slice ${s[p]} of ${s.counts[p]}`);
    if (location && location.values && location.values.length) {
      const hu = location.values[0].value;
      parts.push(`${Math.round(hu)} HU`);
      if (state.maskIndex >= 0 && location.values[state.maskIndex]) {
        parts.push(location.values[state.maskIndex].value > 0 ? "inside the tumour mask" : "outside the tumour mask");
      }
      const outlineIndex = state.outlineVolume ? state.nv.volumes.indexOf(state.outlineVolume) : -1;
      if (outlineIndex > 0 && location.values[outlineIndex]) {
        parts.push(location.values[outlineIndex].value > 0 ? "inside the new outline" : "outside the new outline");
      }
      const camIndex = state.camVolume ? state.nv.volumes.indexOf(state.camVolume) : -1;
      if (camIndex > 0 && location.values[camIndex]) {
        parts.push(`attention ${location.values[camIndex].value.toFixed(2)}`);
      }
    }
    if (location && location.mm) {
      const mm = location.mm;
      parts.push(`(${mm[0].toFixed(1)}, ${mm[1].toFixed(1)}, ${mm[2].toFixed(1)}) mm`);
    }
    $("status").textContent = parts.join(" · ");
  }

  function setWindow(level, width) {
    const ct = state.nv.volumes[0];
    ct.cal_min = level - width / 2;
    ct.cal_max = level + width / 2;
    $("level").value = Math.round(level);
    $("width").value = Math.round(width);
    state.nv.updateGLVolume();
  }

  function setPlane(plane) {
    state.plane = plane;
    for (const b of document.querySelectorAll("#planes button")) b.classList.toggle("on", b.dataset.plane === plane);
    state.nv.setPan2Dxyzmm([0, 0, 0, 1]); // a pan or zoom of one plane would misplace the others
    state.nv.setSliceType(PLANES[plane]);
    showStatus(null);
  }

  function setTool(tool) {
    state.tool = tool;
    const mode = TOOLS[tool];
    state.nv.setMouseEventConfig({
      leftButton: { primary: mode, withCtrl: DRAG_MODE.measurement }, // NiiVue makes shift-drag a pan
      rightButton: DRAG_MODE.windowing,
      centerButton: DRAG_MODE.pan,
    });
    // the wheel zooms only in pan mode; otherwise it steps through slices
    state.nv.opts.dragMode = tool === "pan" ? DRAG_MODE.pan : DRAG_MODE.contrast;
  }

  function zoom(factor) {
    const p = state.nv.scene.pan2Dxyzmm;
    state.nv.setPan2Dxyzmm([p[0], p[1], p[2], Math.min(16, Math.max(0.25, p[3] * factor))]);
  }

  // The point (RAS mm) under a click on the canvas, or null off the image.
  function clickedMm(event) {
    const nv = state.nv, box = nv.canvas.getBoundingClientRect();
    const scale = nv.canvas.width / box.width; // CSS pixels to the canvas's device pixels
    const frac = nv.canvasPos2frac([(event.clientX - box.left) * scale, (event.clientY - box.top) * scale]);
    if (!frac || frac[0] < 0) return null;
    const mm = nv.frac2mm(frac, 0, true);
    return [mm[0], mm[1], mm[2]];
  }

  // In outline mode a click sends its point to the page, which grows the outline from it.
  function outlineClick(event) {
    if (state.tool !== "outline" || !probe.ready || event.button !== 0 || event.ctrlKey || event.shiftKey) return;
    const mm = clickedMm(event);
    if (!mm) return;
    state.clicks += 1;
    const value = { kind: "click", mm: mm, id: `${Date.now().toString(36)}-${state.clicks}` };
    probe.clicks.push(value);
    $("status").textContent = `Growing the outline from (${mm.map((v) => v.toFixed(1)).join(", ")}) mm…`;
    send("streamlit:setComponentValue", { value: value, dataType: "json" });
  }

  // Brush strokes on the outline, on the slice shown (one plane at a time): the path is drawn
  // on a 2-D canvas over the CT while the button is down, then sent to the page.
  function brushing() {
    return (state.tool === "add" || state.tool === "erase") && state.outlineVolume && state.plane !== "three";
  }

  function strokeStart(event) {
    if (!brushing() || event.button !== 0) return;
    const mm = clickedMm(event);
    if (!mm) return;
    state.stroke = { mode: state.tool, points: [mm], xy: [[event.offsetX, event.offsetY]] };
    $("gl").setPointerCapture(event.pointerId);
    drawInk();
  }

  function strokeMove(event) {
    if (!state.stroke) return;
    const mm = clickedMm(event);
    if (!mm) return;
    state.stroke.points.push(mm);
    state.stroke.xy.push([event.offsetX, event.offsetY]);
    drawInk();
  }

  function strokeEnd() {
    const stroke = state.stroke;
    if (!stroke) return;
    state.stroke = null;
    state.clicks += 1;
    const radius = Math.max(0.5, Number($("brush").value) || 5);
    const value = { kind: "stroke", mode: stroke.mode, points: stroke.points, radius: radius, plane: state.plane,
      id: `${Date.now().toString(36)}-${state.clicks}` };
    probe.clicks.push(value);
    $("status").textContent = stroke.mode === "add" ? "Adding the stroke to the outline…" : "Erasing the stroke from the outline…";
    send("streamlit:setComponentValue", { value: value, dataType: "json" });
  }

  function drawInk() {
    const ink = $("ink"), ctx = ink.getContext("2d");
    ink.width = ink.clientWidth;
    ink.height = ink.clientHeight;
    ctx.clearRect(0, 0, ink.width, ink.height);
    const stroke = state.stroke;
    if (!stroke) return;
    const pxPerMm = Number($("scalebar").dataset.pxPerMm) || 1;
    ctx.strokeStyle = stroke.mode === "add" ? "rgba(40, 220, 90, 0.6)" : "rgba(255, 80, 80, 0.6)";
    ctx.lineWidth = 2 * Math.max(0.5, Number($("brush").value) || 5) * pxPerMm;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    stroke.xy.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    if (stroke.xy.length === 1) ctx.lineTo(stroke.xy[0][0] + 0.1, stroke.xy[0][1]);
    ctx.stroke();
  }

  // The brush tools are offered while there is an outline to correct.
  function brushOptions() {
    const on = Boolean(state.outlineVolume);
    for (const value of ["add", "erase"]) $("tool").querySelector(`option[value=${value}]`).disabled = !on;
    $("brush").disabled = !on; // shown all along: the canvas does not move when it comes
    if (!on && (state.tool === "add" || state.tool === "erase")) {
      $("tool").value = "outline";
      setTool("outline");
    }
  }

  // Where the RAS point ``mm`` lies on the canvas (CSS pixels from its top left), after moving
  // the crosshair there so that its slice is the one shown; null if it is not on screen.
  function screenOf(mm) {
    const nv = state.nv;
    nv.scene.crosshairPos = nv.mm2frac(mm);
    nv.drawScene();
    const pos = nv.frac2canvasPos(nv.mm2frac(mm));
    if (!pos || pos[0] < 0) return null;
    const box = nv.canvas.getBoundingClientRect(), scale = box.width / nv.canvas.width;
    return { x: pos[0] * scale, y: pos[1] * scale };
  }

  function outlineOptions(url) {
    return { url: url, name: "outline.nii.gz", colormap: "green", colorbarVisible: false,
      opacity: Math.max(0.35, Number($("maskopacity").value)), cal_min: 0.5, cal_max: 1 };
  }

  // The outline grown from the last click replaces the previous one; the CT stays loaded.
  async function showOutline(bytes, key) {
    await state.loading;
    const nv = state.nv;
    if (state.outlineVolume) {
      nv.removeVolume(state.outlineVolume);
      state.outlineVolume = null;
    }
    if (bytes) {
      state.outlineVolume = await nv.addVolumeFromUrl(outlineOptions(blobUrl(bytes)));
    } else {
      nv.drawScene();
    }
    state.outlineKey = key;
    probe.outlineKey = key;
    brushOptions();
    drawInk();
    showStatus(null);
  }

  // One attention map at a time is loaded, when chosen: an overlay costs NiiVue a pass over
  // the whole volume at every change, even when transparent.
  async function showCam(label) {
    const nv = state.nv;
    if (state.camVolume) {
      nv.removeVolume(state.camVolume);
      state.camVolume = null;
    }
    nv.opts.isColorbar = label !== "";
    if (label !== "") {
      state.camVolume = await nv.addVolumeFromUrl({
        url: state.camUrls[label], name: "attention.nii.gz", colormap: "warm", opacity: 0.5,
        cal_min: 0.05, cal_max: 1, colorbarVisible: true,
      });
    } else {
      nv.drawScene();
    }
    showStatus(null);
  }

  // A scale bar (HTML, over the canvas): 1, 2, 5 or 10 cm, whichever is nearest a quarter of
  // the canvas's width at the current zoom. Its pixels per mm are kept for the browser test.
  function scaleBar() {
    const nv = state.nv, bar = $("scalebar");
    const tile = nv && nv.screenSlices && nv.screenSlices.find((s) => s.axCorSag <= 2 && s.fovMM.length > 1);
    if (!tile) { bar.style.display = "none"; return; }
    const cssPerDevice = nv.canvas.clientWidth / nv.canvas.width;
    // fovMM is the tile's field at the current zoom (the calipers agree)
    const pxPerMm = (tile.leftTopWidthHeight[2] * cssPerDevice) / Math.abs(tile.fovMM[0]);
    if (!Number.isFinite(pxPerMm) || pxPerMm <= 0) { bar.style.display = "none"; return; }
    const wanted = (nv.canvas.clientWidth / 4) / pxPerMm;
    const mm = [10, 20, 50, 100].reduce((a, b) => (Math.abs(b - wanted) < Math.abs(a - wanted) ? b : a));
    bar.style.display = "";
    bar.style.width = (mm * pxPerMm).toFixed(1) + "px";
    bar.dataset.mm = String(mm);
    bar.dataset.pxPerMm = pxPerMm.toFixed(4);
    $("scaletext").textContent = mm >= 10 ? `${mm / 10} cm` : `${mm} mm`;
  }

  function resize() {
    const bar = $("bar").offsetHeight + $("status").offsetHeight + $("hint").offsetHeight + $("error").offsetHeight;
    const canvasHeight = Math.max(240, state.height - bar - 8);
    $("wrap").style.height = canvasHeight + "px";
    $("gl").style.height = canvasHeight + "px";
    send("streamlit:setFrameHeight", { height: state.height });
  }

  function wireControls() {
    for (const b of document.querySelectorAll("#planes button")) b.onclick = () => setPlane(b.dataset.plane);
    $("preset").onchange = () => {
      const p = state.presets[Number($("preset").value)];
      setWindow(p.level, p.width);
    };
    const typed = () => {
      const level = Number($("level").value), width = Number($("width").value);
      if (Number.isFinite(level) && Number.isFinite(width) && width >= 1) setWindow(level, width);
    };
    $("level").onchange = typed;
    $("width").onchange = typed;
    $("tool").onchange = () => setTool($("tool").value);
    $("zoomin").onclick = () => zoom(1.25);
    $("zoomout").onclick = () => zoom(0.8);
    $("reset").onclick = () => {
      state.nv.setPan2Dxyzmm([0, 0, 0, 1]);
      $("preset").onchange();
    };
    $("maskopacity").oninput = () => {
      if (state.maskIndex >= 0) state.nv.setOpacity(state.maskIndex, Number($("maskopacity").value));
    };
    $("cam").onchange = () => showCam($("cam").value).catch((err) => { $("error").textContent = "The attention map could not be shown: " + err; });
    // timing probe: from the wheel event to the next painted frame, with the slice reached
    $("gl").addEventListener("click", outlineClick);
    $("gl").addEventListener("pointerdown", strokeStart);
    $("gl").addEventListener("pointermove", strokeMove);
    $("gl").addEventListener("pointerup", strokeEnd);
    $("gl").addEventListener("pointercancel", () => { state.stroke = null; drawInk(); });
    $("gl").addEventListener("wheel", () => {
      const step = { t0: performance.now(), painted: null, slice: null };
      probe.steps.push(step);
      requestAnimationFrame(() => {
        step.painted = performance.now();
        const s = sliceNumbers();
        step.slice = s ? s[state.plane === "three" ? "axial" : state.plane] : null;
      });
    }, { capture: true, passive: true });
  }

  async function load(args) {
    probe.loadStarted = performance.now();
    const image = bytesOf(args.image);
    if (!image) throw new Error("no CT was sent");
    const preset = state.presets[Number($("preset").value || 0)];
    $("level").value = Math.round(preset.level);
    $("width").value = Math.round(preset.width);
    // display settings go with the volumes: every later change costs a pass over the volume
    const volumes = [{
      url: blobUrl(image), name: "ct.nii.gz", colormap: "gray", colorbarVisible: false,
      cal_min: preset.level - preset.width / 2, cal_max: preset.level + preset.width / 2,
    }];
    const mask = bytesOf(args.mask);
    if (mask) {
      volumes.push({
        url: blobUrl(mask), name: "mask.nii.gz", colormap: "red", colorbarVisible: false,
        opacity: Number($("maskopacity").value), cal_min: 0.5, cal_max: 1,
      });
    }
    state.maskIndex = mask ? 1 : -1;
    state.camVolume = null;
    const outline = bytesOf(args.outline);
    state.outlineVolume = null;
    if (outline) volumes.push(outlineOptions(blobUrl(outline)));
    const labels = args.attention_labels || [];
    state.camUrls = {};
    labels.forEach((label, i) => { state.camUrls[label] = blobUrl(bytesOf(args["attention_" + i])); });
    const nv = state.nv;
    const start = args.start || [0.5, 0.5, 0.5]; // fractions along the LPS axes
    await nv.loadVolumes(volumes);
    if (outline) state.outlineVolume = nv.volumes[volumes.length - 1];
    state.outlineKey = args.outline_key || null;
    probe.outlineKey = state.outlineKey;
    brushOptions();
    probe.loadedMs = performance.now() - probe.loadStarted;
    $("masklabel").style.display = mask ? "" : "none";
    $("camlabel").style.display = labels.length ? "" : "none";
    $("cam").innerHTML = "";
    for (const label of ["", ...labels]) {
      const o = document.createElement("option");
      o.value = label;
      o.textContent = label === "" ? "none" : label;
      $("cam").appendChild(o);
    }
    nv.scene.crosshairPos = [1 - start[0], 1 - start[1], start[2]];
    setPlane(state.plane);
    nv.drawScene();
    showStatus(null);
    probe.ready = true;
    probe.loadMs = performance.now() - probe.loadStarted;
  }

  function init(args) {
    state.presets = args.presets;
    $("preset").innerHTML = "";
    state.presets.forEach((p, i) => {
      const o = document.createElement("option");
      o.value = String(i);
      o.textContent = p.label;
      $("preset").appendChild(o);
    });
    const nv = new Niivue({
      backColor: [0, 0, 0, 1],
      isRadiologicalConvention: true,
      isOrientationTextVisible: true,
      isRuler: false, // NiiVue 0.69 draws no ruler in the radiological convention: see scaleBar

      showMeasureUnits: true,
      multiplanarShowRender: 0, // never: three planes, no 3-D render tile
      crosshairColor: [0.2, 0.8, 1, 0.6],
      crosshairWidth: 1,
      isColorbar: false,
      dragAndDropEnabled: false,
      loadingText: "Loading the CT…",
    });
    state.nv = nv;
    probe.nv = nv;
    nv.opts.measureTextColor = [1, 0.8, 0.1, 1];
    nv.opts.multiplanarLayout = 2; // three planes in a grid
    nv.attachTo("gl");
    const draw = nv.drawScene.bind(nv);
    nv.drawScene = function () {
      const result = draw();
      scaleBar();
      return result;
    };
    nv.setRadiologicalConvention(true);
    nv.onLocationChange = showStatus;
    nv.onMeasurementCompleted = (m) => {
      probe.measurements.push(m.distance);
      $("status").textContent = `Distance ${m.distance.toFixed(1)} mm`;
    };
    nv.onIntensityChange = (volume) => {
      if (volume === nv.volumes[0]) {
        $("level").value = Math.round((volume.cal_min + volume.cal_max) / 2);
        $("width").value = Math.round(volume.cal_max - volume.cal_min);
      }
    };
    wireControls();
    setTool("point");
  }

  window.addEventListener("message", (event) => {
    const data = event.data;
    if (!data || data.type !== "streamlit:render") return;
    const args = data.args || {};
    state.height = Number(args.height) || 600;
    resize();
    if (!state.nv) {
      try {
        init(args);
      } catch (err) {
        probe.error = String(err);
        $("error").textContent = "This browser cannot show the CT (it needs WebGL 2: " + err +
          "). Turn on hardware acceleration, or use a recent Chrome, Edge or Firefox.";
        return;
      }
    }
    if (args.volume_key === state.key) { // the same series: keep the view as it is
      const key = args.outline_key || null;
      if (key !== state.outlineKey) {
        state.outlineKey = key;
        showOutline(bytesOf(args.outline), key).catch((err) => { $("error").textContent = "The outline could not be shown: " + err; });
      }
      return;
    }
    state.key = args.volume_key;
    probe.ready = false;
    state.loading = load(args).catch((err) => {
      probe.error = String(err);
      $("error").textContent = "The CT could not be shown: " + err + ". Reload the page; if it persists, re-import the series.";
    });
  });
  window.addEventListener("resize", () => state.nv && resize());
  send("streamlit:componentReady", { apiVersion: 1 });
})();
