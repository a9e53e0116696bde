import type { CreateEventBody, EventCategory } from "@turnout/contracts";

// What `npm run seed` writes: a dozen people and about 150 events in a handful of real cities, spread over
// the next two months, with a few running now, a few over, some drafts and a couple cancelled.

export const DEMO_PASSWORD = "demo-password-123";

export const DEMO_PEOPLE = [
  "Ana Lima",
  "Ben Okafor",
  "Chloé Martin",
  "Dmitri Volkov",
  "Emma Schulz",
  "Farah Haddad",
  "Gustav Berg",
  "Hana Sato",
  "Iris van Dijk",
  "Jonas Weber",
  "Kofi Mensah",
  "Lucía Romero",
].map((name) => ({ name, email: `${name.split(" ")[0]?.toLowerCase() ?? "demo"}@demo.turnout.test` }));

const CITIES = [
  {
    timezone: "Europe/Berlin",
    venues: [
      ["Kulturbrauerei", "Schönhauser Allee 36, 10435 Berlin"],
      ["betahaus", "Rudi-Dutschke-Straße 23, 10969 Berlin"],
    ],
  },
  {
    timezone: "Europe/Lisbon",
    venues: [
      ["LX Factory", "Rua Rodrigues de Faria 103, 1300-501 Lisboa"],
      ["Village Underground", "Rua Maria Luísa Holstein 2, 1300-388 Lisboa"],
    ],
  },
  {
    timezone: "Europe/London",
    venues: [
      ["The Trampery", "239 Old Street, London EC1V 9EY"],
      ["Rich Mix", "35-47 Bethnal Green Road, London E1 6LA"],
    ],
  },
  {
    timezone: "America/New_York",
    venues: [
      ["Brooklyn Public Library", "10 Grand Army Plaza, Brooklyn, NY 11238"],
      ["The Bell House", "149 7th Street, Brooklyn, NY 11215"],
    ],
  },
  {
    timezone: "Asia/Tokyo",
    venues: [
      ["Shibuya Stream Hall", "3-21-3 Shibuya, Tokyo 150-0002"],
      ["Daikanyama T-Site", "17-5 Sarugakucho, Tokyo 150-0033"],
    ],
  },
] as const;

const IDEAS: Record<EventCategory, { titles: string[]; tags: string[]; blurb: string }> = {
  music: {
    titles: ["Vinyl listening night", "Open jazz jam", "Choir for beginners"],
    tags: ["live", "jazz"],
    blurb: "Bring your ears and maybe an instrument; the house band starts at eight.",
  },
  tech: {
    titles: ["TypeScript meetup", "Postgres performance clinic", "Rust hack night"],
    tags: ["typescript", "postgres", "rust"],
    blurb: "Two short talks, then pizza and hacking in small groups. Laptops welcome.",
  },
  sports: {
    titles: ["Sunday 5k run club", "Bouldering for first-timers", "Five-a-side football"],
    tags: ["running", "climbing"],
    blurb: "All levels welcome. We warm up together and split into paces.",
  },
  arts: {
    titles: ["Life drawing session", "Zine-making workshop", "Gallery walk"],
    tags: ["drawing", "print"],
    blurb: "Materials provided. Leave with something you made yourself.",
  },
  food: {
    titles: ["Dumpling folding class", "Natural wine tasting", "Street food crawl"],
    tags: ["cooking", "tasting"],
    blurb: "Small group, big appetite. Tell us about allergies when you join.",
  },
  community: {
    titles: ["Neighbourhood cleanup", "Language exchange evening", "Board game social"],
    tags: ["volunteering", "social"],
    blurb: "Meet your neighbours and help out; tea and cake afterwards.",
  },
  business: {
    titles: ["Founders breakfast", "Freelancer tax Q&A", "Pitch practice"],
    tags: ["startups", "networking"],
    blurb: "Honest conversations with people building things. Coffee is on us.",
  },
  education: {
    titles: ["Intro to statistics", "History of the city walk", "Spanish for travellers"],
    tags: ["learning", "language"],
    blurb: "A friendly teacher, short exercises and plenty of time for questions.",
  },
  wellness: {
    titles: ["Morning yoga in the park", "Breathwork session", "Sound bath"],
    tags: ["yoga", "mindfulness"],
    blurb: "Bring a mat and water. Suitable for complete beginners.",
  },
  outdoors: {
    titles: ["Sunrise hike", "Urban birdwatching", "Kayak afternoon"],
    tags: ["hiking", "nature"],
    blurb: "Comfortable shoes and a rain jacket; we go whatever the weather.",
  },
  other: {
    titles: ["Pub quiz", "Repair café", "Photo walk"],
    tags: ["quiz", "repair"],
    blurb: "Something a little different. Come alone or bring a friend.",
  },
};

const HOUR = 60 * 60 * 1000;

export interface DemoEvent {
  organizerIndex: number;
  body: CreateEventBody;
  /** What happens after it is created as a draft. */
  fate: "published" | "draft" | "cancelled";
}

/** About 150 events relative to `now`: past, running, upcoming; every category, city and organizer. */
export function buildDemoEvents(now: Date): DemoEvent[] {
  const categories = Object.keys(IDEAS) as EventCategory[];
  const events: DemoEvent[] = [];
  for (let index = 0; index < 150; index++) {
    const category = categories[index % categories.length] ?? "other";
    const idea = IDEAS[category];
    const city = CITIES[index % CITIES.length] ?? CITIES[0];
    const [venueName, address] = city.venues[index % city.venues.length] ?? city.venues[0];
    // Spread: 6 running now, 6 already over, the rest over the next 60 days at sensible hours.
    const hoursFromNow =
      index < 6 ? -1 : index < 12 ? -(24 * (index - 5)) : 24 * ((index * 7) % 60) + ((index * 5) % 12) - 4;
    const startsAt = new Date(Math.floor((now.getTime() + hoursFromNow * HOUR) / HOUR) * HOUR);
    const durationHours = 1 + (index % 4);
    events.push({
      organizerIndex: index % DEMO_PEOPLE.length,
      fate: index % 23 === 7 ? "draft" : index % 37 === 11 ? "cancelled" : "published",
      body: {
        title: `${idea.titles[index % idea.titles.length] ?? "Meetup"} — ${venueName}`,
        description: `${idea.blurb}\n\nHosted at ${venueName}. Doors open 15 minutes before the start.`,
        startsAt: startsAt.toISOString(),
        endsAt: new Date(startsAt.getTime() + durationHours * HOUR).toISOString(),
        timezone: city.timezone,
        venue: { name: venueName, address },
        onlineUrl: null,
        category,
        tags: idea.tags.slice(0, 1 + (index % idea.tags.length)),
        capacity: index % 6 === 0 ? null : 8 + ((index * 13) % 120),
        waitlistLimit: index % 4 === 0 ? 0 : null,
        visibility: index % 19 === 3 ? "unlisted" : "public",
        coverPhotoUrl: null,
      },
    });
  }
  return events;
}
