import { mount } from "svelte";
import App from "./App.svelte";
import "./app.css";
import { setBackend } from "./lib/backend";
import { tauriBackend } from "./lib/tauri";

setBackend(tauriBackend);
mount(App, { target: document.getElementById("app")! });
