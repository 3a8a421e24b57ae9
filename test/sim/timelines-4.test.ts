// Part 4 of the in-suite simulation campaign (see timelines.ts).
import { timelineCampaign } from "./timelines.ts";

timelineCampaign(4);
