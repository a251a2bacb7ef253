// TelemetryHub device overview: presence and latest values from the HTTP API, refreshed every 2 s.
"use strict";

const params = new URLSearchParams(location.search);
if (params.get("token")) sessionStorage.setItem("telemetryhub.token", params.get("token"));
const token = sessionStorage.getItem("telemetryhub.token");
let selected = null;

async function api(path) {
  const headers = token ? { Authorization: "Bearer " + token } : {};
  const response = await fetch(path, { headers });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? body.error.code + ": " + body.error.message : response.statusText);
  return body;
}

function time(ms) {
  return ms ? new Date(ms).toLocaleTimeString() : "";
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
}

async function refreshDevices() {
  const status = document.getElementById("status");
  try {
    const { devices } = await api("/api/devices");
    const online = devices.filter((d) => d.state === "online").length;
    document.getElementById("summary").textContent = `${devices.length} devices, ${online} online`;
    const body = document.querySelector("#devices tbody");
    body.replaceChildren();
    for (const device of devices) {
      const row = body.insertRow();
      cell(row, device.device);
      cell(row, device.kind);
      cell(row, device.rooms.join(", "));
      cell(row, device.state, device.state);
      cell(row, device.reason);
      cell(row, time(device.since));
      cell(row, time(device.last_seen));
      cell(row, device.series);
      row.onclick = () => { selected = device.device; refreshDetail(); };
    }
    status.textContent = "updated " + new Date().toLocaleTimeString();
    status.className = "status";
  } catch (error) {
    status.textContent = token ? String(error.message) : "open this page with ?token=<viewer token> (make run prints the link)";
    status.className = "status error";
  }
}

async function refreshDetail() {
  if (!selected) return;
  try {
    const { device } = await api("/api/devices/" + encodeURIComponent(selected));
    document.getElementById("detail").hidden = false;
    document.getElementById("detail-title").textContent = `${device.device} (${device.kind}, ${device.state})`;
    const body = document.querySelector("#metrics tbody");
    body.replaceChildren();
    for (const [metric, latest] of Object.entries(device.metrics)) {
      const row = body.insertRow();
      cell(row, metric);
      cell(row, latest ? latest[1] : "");
      cell(row, latest ? time(latest[0]) : "");
    }
  } catch (error) {
    document.getElementById("detail-title").textContent = String(error.message);
  }
}

refreshDevices();
setInterval(() => { refreshDevices(); refreshDetail(); }, 2000);
