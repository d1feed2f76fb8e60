// The Rapport session room: pre-session check, waiting room, WebRTC video, text chat.
// The join token comes from the URL fragment (never sent to a server by the browser), is
// removed from the address bar at once, and travels only in the WebSocket's hello frame.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const FINAL = { 4000: "The therapist ended the session.", 4001: "The booked time is over.",
    4002: "This appointment was cancelled or moved.", 4401: "This link is not valid (or has expired).",
    4403: "This link is for another session." };
  const state = { token: "", claims: {}, ws: null, pc: null, local: null, role: "", admitted: false,
    peerPresent: false, over: false, retry: 0, pending: [], remoteStream: null, pingSent: 0, rtt: null };
  window.rapport = state; // read by the browser test (connection state, getStats)

  // --- the token -------------------------------------------------------------------------
  const fragment = new URLSearchParams(location.hash.slice(1));
  state.token = fragment.get("t") || "";
  history.replaceState(null, "", location.pathname); // the token leaves the address bar
  try {
    const part = state.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    state.claims = JSON.parse(atob(part)); // display only; the relay verifies it
  } catch (e) { state.claims = {}; }
  const appointmentId = location.pathname.split("/").pop();
  const textOnly = state.claims.mod === "chat";

  function advise(text) { const a = $("advice"); a.textContent = text; a.hidden = !text; }
  function mark(id, s, text) { const el = $(id); el.dataset.state = s; el.textContent = text; }
  function quality(level, text) { const q = $("quality"); q.dataset.level = level; q.textContent = "Connection: " + text; }

  // --- 1. pre-session check ---------------------------------------------------------------
  async function checkDevices() {
    advise("");
    if (textOnly) {
      mark("check-camera", "skip", "Camera: not needed (text session)");
      mark("check-mic", "skip", "Microphone: not needed (text session)");
      $("preview-box").hidden = true;
      return;
    }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      mark("check-camera", "fail", "Camera: this browser cannot use one here");
      mark("check-mic", "fail", "Microphone: this browser cannot use one here");
      advise("Your browser does not allow camera access on this page. Use a recent browser over https. You can still join and use the chat.");
      return;
    }
    try {
      state.local = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    } catch (err) {
      state.local = null;
      const blocked = err && (err.name === "NotAllowedError" || err.name === "SecurityError");
      const missing = err && (err.name === "NotFoundError" || err.name === "OverconstrainedError");
      mark("check-camera", "fail", "Camera: " + (blocked ? "blocked" : missing ? "not found" : "unavailable"));
      mark("check-mic", "fail", "Microphone: " + (blocked ? "blocked" : missing ? "not found" : "unavailable"));
      advise(blocked
        ? "The browser blocked the camera and microphone. Allow them in the address bar's site settings, then press “Try the devices again”. You can also join with chat only."
        : missing
          ? "No camera or microphone was found. Plug one in and press “Try the devices again”, or join with chat only."
          : "Another application may be using your camera. Close it and try again, or join with chat only.");
      $("retry-devices").hidden = false;
      return;
    }
    $("retry-devices").hidden = true;
    $("preview").srcObject = state.local;
    mark("check-camera", state.local.getVideoTracks().length ? "ok" : "fail",
      state.local.getVideoTracks().length ? "Camera: working" : "Camera: not found");
    mark("check-mic", state.local.getAudioTracks().length ? "ok" : "fail",
      state.local.getAudioTracks().length ? "Microphone: working (watch the level)" : "Microphone: not found");
    meter(state.local);
  }

  function meter(stream) {
    if (!stream.getAudioTracks().length || !window.AudioContext) return;
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    ctx.createMediaStreamSource(stream).connect(analyser);
    const data = new Uint8Array(analyser.fftSize);
    const tick = () => {
      analyser.getByteTimeDomainData(data);
      let peak = 0;
      for (const v of data) peak = Math.max(peak, Math.abs(v - 128) / 128);
      $("level").value = peak;
      if (!state.over) requestAnimationFrame(tick);
    };
    tick();
  }

  async function checkRelay() {
    const t0 = performance.now();
    try {
      const r = await fetch("/v1/sessions/ready", { cache: "no-store" });
      const ms = Math.round(performance.now() - t0);
      if (!r.ok) throw new Error("not ready");
      mark("check-relay", "ok", `Connection to Rapport: good (${ms} ms)`);
      return true;
    } catch (e) {
      mark("check-relay", "fail", "Connection to Rapport: failing");
      advise("Rapport cannot be reached. Check your internet connection; the page retries by itself.");
      setTimeout(async () => { if (await checkRelay()) $("join").disabled = !state.token; }, 3000);
      return false;
    }
  }

  async function preSession() {
    if (!state.token) {
      advise("This page needs the personal link you received (it contains your access). Open that link again.");
      mark("check-relay", "skip", "Connection to Rapport: not checked");
      return;
    }
    $("check-intro").textContent = textOnly
      ? "This is a text session: no camera needed. Nothing is recorded."
      : "Check your camera, microphone and connection. Nothing is recorded.";
    await Promise.all([checkDevices(), checkRelay()]).then(([, ok]) => { $("join").disabled = !ok; });
  }

  // --- 2. the room ------------------------------------------------------------------------
  function wsUrl() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    return `${proto}//${location.host}/v1/sessions/${encodeURIComponent(appointmentId)}/live`;
  }

  function send(frame) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(frame));
  }

  function connect() {
    status("Connecting…");
    const ws = new WebSocket(wsUrl());
    state.ws = ws;
    ws.onopen = () => { ws.send(JSON.stringify({ type: "hello", token: state.token })); };
    ws.onmessage = (ev) => { let f; try { f = JSON.parse(ev.data); } catch (e) { return; } onFrame(f); };
    ws.onclose = (ev) => {
      if (state.ws !== ws) return;
      quality("down", "lost");
      if (FINAL[ev.code]) return finish(FINAL[ev.code]);
      if (ev.code === 4009) return status("This session was opened in another window.");
      if (ev.code === 4425) status("The room is not open yet. It opens a few minutes before the start; retrying…");
      else status("Connection lost. Reconnecting…");
      const delay = Math.min(10000, 500 * 2 ** state.retry++) + Math.random() * 300;
      setTimeout(() => { if (!state.over) connect(); }, delay);
    };
  }

  function status(text) { $("status").textContent = text; }

  function onFrame(f) {
    switch (f.type) {
      case "welcome":
        state.retry = 0;
        state.role = f.role;
        state.iceServers = f.ice_servers || [];
        $("end").textContent = f.role === "therapist" ? "End session" : "Leave";
        quality("good", "connected");
        presence(f);
        break;
      case "presence": presence(f); break;
      case "admit": status("You are in the session."); break;
      case "chat": addMessage(f.text, false); $("typing").textContent = ""; break;
      case "typing": $("typing").textContent = f.active ? "The other person is typing…" : ""; break;
      case "signal": onSignal(f.data); break;
      case "end": finish(f.by === "therapist" ? FINAL[4000] : FINAL[4001]); break;
      case "pong": state.rtt = performance.now() - state.pingSent; break;
      case "error": status(f.message); break;
    }
  }

  function presence(p) {
    const wasLive = state.admitted && state.peerPresent;
    state.admitted = !!p.admitted;
    const peer = state.role === "therapist" ? p.client : p.therapist;
    state.peerPresent = peer === "present";
    const live = state.admitted && state.peerPresent;
    $("admit-bar").hidden = !(state.role === "therapist" && p.client === "waiting");
    $("chat-input").disabled = !live;
    $("send").disabled = !live;
    if (state.role === "client" && !state.admitted) status("You are in the waiting room. Your therapist will let you in.");
    else if (!state.peerPresent) status(state.role === "therapist" ? "Waiting for your client to join…" : "Waiting for your therapist…");
    else status("You are in the session.");
    // The therapist starts the call (again) whenever the two are together anew.
    if (live && !wasLive && state.role === "therapist" && !textOnly) startCall();
    if (!live && state.pc) { state.pc.close(); state.pc = null; $("remote").srcObject = null; }
  }

  // --- WebRTC: media peer to peer; the relay only passes the signalling through ----------
  function newPeer() {
    if (state.pc) state.pc.close();
    const pc = new RTCPeerConnection({ iceServers: iceServers() });
    state.pc = pc;
    state.remoteStream = new MediaStream();
    $("remote").srcObject = state.remoteStream;
    pc.ontrack = (ev) => { state.remoteStream.addTrack(ev.track); };
    pc.onicecandidate = (ev) => { if (ev.candidate) send({ type: "signal", data: { candidate: ev.candidate.toJSON() } }); };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed") quality("poor", "media failed, retrying");
    };
    return pc;
  }

  function iceServers() { return state.iceServers || []; }

  function addLocal(pc) {
    if (state.local) for (const t of state.local.getTracks()) pc.addTrack(t, state.local);
    else { pc.addTransceiver("audio", { direction: "recvonly" }); pc.addTransceiver("video", { direction: "recvonly" }); }
  }

  async function startCall() {
    const pc = newPeer();
    addLocal(pc);
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    send({ type: "signal", data: { description: pc.localDescription.toJSON() } });
  }

  async function onSignal(data) {
    if (!data) return;
    if (data.description) {
      const d = data.description;
      if (d.type === "offer") {
        const pc = newPeer();
        await pc.setRemoteDescription(d);
        if (state.local) for (const t of state.local.getTracks()) pc.addTrack(t, state.local);
        const answer = await pc.createAnswer();
        await pc.setLocalDescription(answer);
        send({ type: "signal", data: { description: pc.localDescription.toJSON() } });
        for (const c of state.pending.splice(0)) await pc.addIceCandidate(c).catch(() => {});
      } else if (d.type === "answer" && state.pc) {
        await state.pc.setRemoteDescription(d);
        for (const c of state.pending.splice(0)) await state.pc.addIceCandidate(c).catch(() => {});
      }
    } else if (data.candidate) {
      if (state.pc && state.pc.remoteDescription) await state.pc.addIceCandidate(data.candidate).catch(() => {});
      else state.pending.push(data.candidate);
    }
  }

  // --- quality indicator: media stats when in a call, the relay's round trip otherwise ----
  async function measure() {
    if (state.over) return;
    send({ type: "ping" });
    state.pingSent = performance.now();
    if (state.pc && state.pc.connectionState === "connected") {
      const stats = await state.pc.getStats();
      let rtt = null, lost = 0, received = 0;
      stats.forEach((s) => {
        if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime !== undefined) rtt = s.currentRoundTripTime * 1000;
        if (s.type === "inbound-rtp") { lost += s.packetsLost || 0; received += s.packetsReceived || 0; }
      });
      const loss = received ? lost / (lost + received) : 0;
      const level = loss > 0.08 || rtt > 400 ? "poor" : loss > 0.02 || rtt > 200 ? "fair" : "good";
      quality(level, `${level} (${rtt === null ? "?" : Math.round(rtt)} ms, ${(loss * 100).toFixed(1)}% loss)`);
    } else if (state.ws && state.ws.readyState === WebSocket.OPEN && state.rtt !== null) {
      const level = state.rtt > 400 ? "poor" : state.rtt > 200 ? "fair" : "good";
      quality(level, `${level} (${Math.round(state.rtt)} ms to Rapport)`);
    }
  }

  // --- chat -------------------------------------------------------------------------------
  function addMessage(text, mine) {
    const li = document.createElement("li");
    li.className = mine ? "mine" : "theirs";
    li.textContent = text; // never innerHTML: chat is text
    $("messages").appendChild(li);
    li.scrollIntoView({ block: "end" });
  }

  let typingSent = 0;
  $("chat-input").addEventListener("input", () => {
    const now = Date.now();
    if (now - typingSent > 2000) { send({ type: "typing", active: true }); typingSent = now; }
  });
  $("chat-input").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("chat-form").requestSubmit(); }
  });
  $("chat-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = $("chat-input");
    const text = input.value.trim();
    if (!text) return;
    send({ type: "chat", text });
    addMessage(text, true);
    input.value = "";
  });

  // --- controls ---------------------------------------------------------------------------
  function toggle(kind, button, onLabel, offLabel) {
    if (!state.local) return;
    const tracks = kind === "audio" ? state.local.getAudioTracks() : state.local.getVideoTracks();
    const enabled = !(tracks[0] && tracks[0].enabled);
    for (const t of tracks) t.enabled = enabled;
    button.setAttribute("aria-pressed", String(!enabled));
    button.textContent = enabled ? onLabel : offLabel;
  }
  $("mute").addEventListener("click", () => toggle("audio", $("mute"), "Mute", "Unmute"));
  $("camera").addEventListener("click", () => toggle("video", $("camera"), "Camera off", "Camera on"));
  $("admit").addEventListener("click", () => send({ type: "admit" }));
  $("end").addEventListener("click", () => {
    if (state.role === "therapist") { if (confirm("End the session for both of you?")) send({ type: "end" }); }
    else { finish("You left the session."); }
  });
  $("retry-devices").addEventListener("click", checkDevices);
  $("join").addEventListener("click", () => {
    $("check").hidden = true;
    $("room").hidden = false;
    if (textOnly || !state.local) {
      $("stage").classList.toggle("text-only", textOnly);
      $("mute").disabled = $("camera").disabled = true;
    }
    if (state.local) $("local").srcObject = state.local;
    connect();
    setInterval(measure, 2000);
  });

  function finish(reason) {
    if (state.over) return;
    state.over = true;
    if (state.pc) state.pc.close();
    if (state.local) for (const t of state.local.getTracks()) t.stop();
    if (state.ws && state.ws.readyState <= WebSocket.OPEN) state.ws.close(1000);
    $("room").hidden = true;
    $("check").hidden = true;
    $("over").hidden = false;
    $("over-reason").textContent = reason;
    quality("unknown", "closed");
  }

  preSession();
})();
