// The notifications guide's Node.js receiver ("2. Security Scanning"), as written there, with
// only what the tests need changed:
//   - `trivy image ${imageRef}` runs `echo ${imageRef} >> "$OUT"` instead, so the test reads
//     the image reference the receiver computed (OUT: a file the test names);
//   - app.listen(3000) listens on process.env.PORT, a free port the test picks.
// Node.js webhook receiver
const express = require('express');
const { exec } = require('child_process');

const app = express();
app.use(express.json());

app.post('/registry-events', (req, res) => {
    const event = req.body;
    
    if (event.action === 'push') {
        const imageRef = `${event.request.host}/${event.target.repository}@${event.target.digest}`;
        
        // Scan with Trivy
        exec(`echo ${imageRef} >> "$OUT"`, (error, stdout, stderr) => {
            if (error) {
                console.error(`Scan failed: ${error}`);
                return;
            }
            console.log(`Scan results: ${stdout}`);
        });
    }
    
    res.status(200).json({ status: 'processed' });
});

app.listen(process.env.PORT);
