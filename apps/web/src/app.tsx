import { StatusLine } from "./components/status-line.tsx";

/** The first screen: who we are, what we do, and whether the server is ready. */
export function App() {
  return (
    <div className="shell">
      <header className="shell__header">
        <span className="shell__mark" aria-hidden="true" />
        <h1 className="shell__title">Turnout</h1>
      </header>
      <main className="shell__main">
        <p className="shell__tagline">
          Discover, create and join events — live, from the first RSVP to the last photo.
        </p>
        <StatusLine />
      </main>
      <footer className="shell__footer">Self-hosted event platform</footer>
    </div>
  );
}
